#!/usr/bin/env bash
# Environment for ZooKeeper's launch scripts (zkServer.sh, zkCli.sh,
# zkCleanup.sh), written by zkfleet for distributions it assembles from Debian
# packages. Debian's own zkEnv.sh is a link into /etc/zookeeper, which would tie
# every unpacked distribution to the host's packaged configuration; this one
# keeps everything relative to the unpacked directory, as Apache's layout does.
#
# It is sourced, not run: it sees (and may consume) the caller's arguments.
#
# Inputs, all optional (from the environment, zookeeper-env.sh or java.env):
#   ZOOCFGDIR        configuration directory    (default: <dist>/conf)
#   ZOOCFG           config file name in it     (default: zoo.cfg)
#   ZOO_LOG_DIR      log directory              (default: <dist>/logs)
#   ZOO_LOG4J_PROP   log4j root logger, no spaces (default: INFO,CONSOLE)
#   JAVA_HOME        JDK/JRE to use             (default: java on PATH)
#   ZK_SERVER_HEAP / ZK_CLIENT_HEAP   heap in MB (default: 1000 / 256)
#   SERVER_JVMFLAGS / CLIENT_JVMFLAGS / JVMFLAGS   extra JVM options
# Outputs read by the launch scripts of 3.4, 3.8 and 3.9:
#   ZOOBINDIR ZOOKEEPER_PREFIX ZOOCFGDIR ZOOCFG ZOO_LOG_DIR ZOO_LOG4J_PROP
#   JAVA CLASSPATH JVMFLAGS SERVER_JVMFLAGS CLIENT_JVMFLAGS

if [ -z "$ZOOBINDIR" ]; then
  ZOOBINDIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
fi
ZOOKEEPER_PREFIX="$(cd "$ZOOBINDIR/.." && pwd)"

# `zkServer.sh --config DIR start`: take the option out of the caller's
# arguments, so that the command is "$1" again for the script that sourced us.
if [ $# -gt 1 ] && [ "$1" = "--config" ]; then
  shift
  ZOOCFGDIR="$1"
  shift
fi
ZOOCFGDIR="${ZOOCFGDIR:-$ZOOKEEPER_PREFIX/conf}"
# zkServer.sh compares "$(dirname "$ZOOCFG")" with "$ZOOCFGDIR" to decide
# whether a config path was given; an absolute path without a trailing slash
# makes that comparison hold for the default config file.
if [ -d "$ZOOCFGDIR" ]; then
  ZOOCFGDIR="$(cd "$ZOOCFGDIR" && pwd)"
else
  echo "zkEnv.sh: configuration directory $ZOOCFGDIR does not exist" >&2
fi

if [ -f "$ZOOCFGDIR/zookeeper-env.sh" ]; then
  . "$ZOOCFGDIR/zookeeper-env.sh"
fi
if [ -f "$ZOOCFGDIR/java.env" ]; then
  . "$ZOOCFGDIR/java.env"
fi

ZOOCFG="$ZOOCFGDIR/${ZOOCFG:-zoo.cfg}"
ZOO_LOG_DIR="${ZOO_LOG_DIR:-$ZOOKEEPER_PREFIX/logs}"
ZOO_LOG4J_PROP="${ZOO_LOG4J_PROP:-INFO,CONSOLE}"
# 3.8+ scripts name their log files after $USER, which a command run over ssh
# or by an init system may not have.
USER="${USER:-$(id -un 2>/dev/null)}"

if [ -n "$JAVA_HOME" ] && [ -x "$JAVA_HOME/bin/java" ]; then
  JAVA="$JAVA_HOME/bin/java"
elif command -v java >/dev/null 2>&1; then
  JAVA="$(command -v java)"
else
  echo "zkEnv.sh: no Java found: set JAVA_HOME or put java on PATH" >&2
  exit 1
fi

# The jute jar goes first: zookeeper.jar's own manifest may name another
# jute (Debian's point to /usr/share/java), and the first class found wins.
zk_cp="$ZOOCFGDIR"
for zk_jar in "$ZOOKEEPER_PREFIX"/lib/zookeeper-jute-*.jar "$ZOOKEEPER_PREFIX"/lib/zookeeper-[0-9]*.jar; do
  [ -f "$zk_jar" ] && zk_cp="$zk_cp:$zk_jar"
done
for zk_jar in "$ZOOKEEPER_PREFIX"/lib/*.jar; do
  case "$zk_cp:" in
    *":$zk_jar:"*) ;;
    *) zk_cp="$zk_cp:$zk_jar" ;;
  esac
done
CLASSPATH="$zk_cp${CLASSPATH:+:$CLASSPATH}"
unset zk_cp zk_jar

# Debian's 3.8+ zkServer.sh no longer passes the root logger (upstream moved
# to logback), but its log4j 1.2 configuration still reads it: pass it here.
JVMFLAGS="-Dzookeeper.root.logger=$ZOO_LOG4J_PROP $JVMFLAGS"
SERVER_JVMFLAGS="-Xmx${ZK_SERVER_HEAP:-1000}m $SERVER_JVMFLAGS"
CLIENT_JVMFLAGS="-Xmx${ZK_CLIENT_HEAP:-256}m $CLIENT_JVMFLAGS"
