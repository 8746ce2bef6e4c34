# managed by zkfleet, do not edit
# Sourced by zkServer.sh (through zkEnv.sh) on zk3. Plain KEY='value'
# lines without `export`, so that a systemd EnvironmentFile= can read it too.
ZOO_LOG_DIR='/var/log/zookeeper'
ZOO_LOG4J_PROP='INFO,ROLLINGFILE'
# SERVER_JVMFLAGS reaches only the server JVM; JVMFLAGS would also give the
# heap to every zkCli.sh and `zkServer.sh status` run.
SERVER_JVMFLAGS='-Xms512m -Xmx512m'
