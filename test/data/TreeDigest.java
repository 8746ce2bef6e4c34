// An independent reader for the data-plane tests: ZooKeeper's own Java
// client walks a tree and computes the digest controller/data/digest.ts
// defines, written again here from that definition and sharing no code with
// zkfleet, so a test can check zkfleet's copies and digests against it.
//
//   java -cp 'apache-zookeeper-3.8.0-bin/lib/*' TreeDigest.java HOST:PORT ROOT [SCHEME:CREDENTIAL]
//
// Prints "nodes N ephemeral E digest sha256:HEX state sha256:HEX": the
// digest of the persistent nodes at and below ROOT (/zookeeper left out),
// and a digest of every node's zxids and versions, which any write changes.
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.data.ACL;
import org.apache.zookeeper.data.Stat;

public class TreeDigest {
    private final ZooKeeper zk;
    private final MessageDigest tree = MessageDigest.getInstance("SHA-256");
    private final MessageDigest state = MessageDigest.getInstance("SHA-256");
    private long nodes = 0;
    private long ephemeral = 0;

    TreeDigest(ZooKeeper zk) throws Exception {
        this.zk = zk;
    }

    /** Depth-first, siblings sorted; a persistent node's line before its children's. */
    private void visit(String path) throws Exception {
        Stat stat = new Stat();
        byte[] data = zk.getData(path, false, stat);
        List<ACL> acl = zk.getACL(path, new Stat());
        String versions = path + "\t" + stat.getCzxid() + "\t" + stat.getMzxid() + "\t" + stat.getPzxid() + "\t" + stat.getVersion() + "\t" + stat.getCversion() + "\t" + stat.getAversion() + "\n";
        state.update(versions.getBytes(StandardCharsets.UTF_8));
        if (stat.getEphemeralOwner() != 0) {
            ephemeral++;
        } else {
            nodes++;
            StringBuilder line = new StringBuilder();
            line.append(path).append('\t');
            line.append(HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data == null ? new byte[0] : data))).append('\t');
            // The next sequence number: the server counts creates, and reports cversion = 2 * creates - numChildren.
            line.append((stat.getCversion() + stat.getNumChildren()) / 2);
            for (ACL a : acl) line.append('\t').append(a.getPerms()).append(':').append(a.getId().getScheme()).append(':').append(a.getId().getId());
            line.append('\n');
            tree.update(line.toString().getBytes(StandardCharsets.UTF_8));
        }
        if (stat.getNumChildren() == 0) return;
        List<String> children = new ArrayList<>(zk.getChildren(path, false));
        Collections.sort(children);
        for (String name : children) {
            String child = path.equals("/") ? "/" + name : path + "/" + name;
            if (!child.equals("/zookeeper")) visit(child);
        }
    }

    public static void main(String[] args) throws Exception {
        CountDownLatch connected = new CountDownLatch(1);
        ZooKeeper zk = new ZooKeeper(args[0], 30000, e -> {
            if (e.getState() == Watcher.Event.KeeperState.SyncConnected) connected.countDown();
        });
        if (!connected.await(30, TimeUnit.SECONDS)) throw new IllegalStateException("no session with " + args[0]);
        if (args.length > 2) {
            int at = args[2].indexOf(':');
            zk.addAuthInfo(args[2].substring(0, at), args[2].substring(at + 1).getBytes(StandardCharsets.UTF_8));
        }
        try {
            // The server read may lag the leader (a quorum acknowledged the last writes, not every server): catch up first.
            CountDownLatch synced = new CountDownLatch(1);
            zk.sync(args[1], (rc, p, ctx) -> synced.countDown(), null);
            if (!synced.await(30, TimeUnit.SECONDS)) throw new IllegalStateException("sync " + args[1] + " not answered");
            TreeDigest d = new TreeDigest(zk);
            d.visit(args[1]);
            System.out.println("nodes " + d.nodes + " ephemeral " + d.ephemeral + " digest sha256:" + HexFormat.of().formatHex(d.tree.digest())
                + " state sha256:" + HexFormat.of().formatHex(d.state.digest()));
        } finally {
            zk.close();
        }
    }
}
