// The peer zkfleet's data plane is measured against (bench/data-copy.mjs): a
// copier in the manner of zkcopy, on ZooKeeper's own Java client. It reads
// the source tree with asynchronous calls (every node's data and children
// asked together, many nodes in flight), holds it in memory, and writes it
// into the target as creates in multi transactions (cut at a count of ops or
// a number of bytes, whichever comes first), several in flight. Like zkcopy,
// it copies paths and data only: every node gets the open ACL and no
// sequence counter is continued.
//
//   java -cp 'LIB/*:CLASSES' ZkCopy copy SRC DST ROOT [BATCH_OPS BATCH_BYTES IN_FLIGHT]
//   java -cp 'LIB/*:CLASSES' ZkCopy read SERVER ROOT
//   java -cp 'LIB/*:CLASSES' ZkCopy digest SERVER ROOT
//
// copy prints "read N nodes in R ms; wrote N nodes in W ms in B multi(s)";
// read reads as copy does and prints "read N nodes in R ms".
// digest reads a tree the same way and prints "nodes N data sha256:HEX full
// sha256:HEX": the first over each node's path and data, the second as
// controller/data/digest.ts defines a tree's digest (path, data, next
// sequence number, ACL), so that a copy by zkfleet and one by this peer can
// each be checked against their source. Both leave /zookeeper out.
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.Op;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.data.ACL;
import org.apache.zookeeper.data.Stat;

public final class ZkCopy {
    /** Calls in flight at most while reading. */
    private static final int READ_WINDOW = 2000;

    static final class Node {
        final String path;
        byte[] data;
        Stat stat;
        List<ACL> acl;

        Node(String path) {
            this.path = path;
        }
    }

    static ZooKeeper connect(String servers) throws Exception {
        CountDownLatch up = new CountDownLatch(1);
        ZooKeeper zk = new ZooKeeper(servers, 30000, e -> {
            if (e.getState() == Watcher.Event.KeeperState.SyncConnected) up.countDown();
        });
        if (!up.await(30, TimeUnit.SECONDS)) throw new IllegalStateException("no session with " + servers);
        return zk;
    }

    static String child(String parent, String name) {
        return parent.equals("/") ? "/" + name : parent + "/" + name;
    }

    /**
     * Every node at and below root, read asynchronously: for each node its data and its children are asked
     * together (and its ACL too when withAcl), at most READ_WINDOW calls in flight. Callbacks run on the
     * client's event thread and must not block, so calls are issued from this thread only.
     */
    static List<Node> readTree(ZooKeeper zk, String root, boolean withAcl) throws Exception {
        int calls = withAcl ? 3 : 2;
        ConcurrentLinkedQueue<Node> done = new ConcurrentLinkedQueue<>();
        LinkedBlockingQueue<String> todo = new LinkedBlockingQueue<>();
        Semaphore room = new Semaphore(READ_WINDOW);
        AtomicInteger unfinished = new AtomicInteger(1);
        AtomicReference<String> failure = new AtomicReference<>();
        todo.add(root);
        while (unfinished.get() > 0 && failure.get() == null) {
            String path = todo.poll(50, TimeUnit.MILLISECONDS);
            if (path == null) continue;
            room.acquire(calls);
            Node n = new Node(path);
            AtomicInteger parts = new AtomicInteger(calls);
            Runnable part = () -> {
                if (parts.decrementAndGet() == 0) {
                    done.add(n);
                    unfinished.decrementAndGet();
                }
            };
            zk.getData(path, false, (rc, p, ctx, data, stat) -> {
                if (rc != 0) failure.compareAndSet(null, "getData " + p + ": " + KeeperException.Code.get(rc));
                n.data = data == null ? new byte[0] : data;
                n.stat = stat;
                room.release();
                part.run();
            }, null);
            zk.getChildren(path, false, (rc, p, ctx, children) -> {
                if (rc != 0) {
                    failure.compareAndSet(null, "getChildren " + p + ": " + KeeperException.Code.get(rc));
                } else {
                    for (String name : children) {
                        String c = child(p, name);
                        if (c.equals("/zookeeper")) continue;
                        unfinished.incrementAndGet();
                        todo.add(c);
                    }
                }
                room.release();
                part.run();
            }, null);
            if (withAcl) {
                zk.getACL(path, new Stat(), (rc, p, ctx, acl, stat) -> {
                    if (rc != 0) failure.compareAndSet(null, "getACL " + p + ": " + KeeperException.Code.get(rc));
                    n.acl = acl;
                    room.release();
                    part.run();
                }, null);
            }
        }
        if (failure.get() != null) throw new IllegalStateException(failure.get());
        List<Node> nodes = new ArrayList<>(done);
        // Depth first, siblings by name: '/' sorts before every character a name may hold.
        nodes.sort(Comparator.comparing(x -> x.path.replace('/', '\u0000')));
        return nodes;
    }

    /** Creates every node, parents first, in multis of at most batchOps ops and batchBytes bytes, inFlight at a time. */
    static int writeTree(ZooKeeper zk, List<Node> nodes, int batchOps, int batchBytes, int inFlight) throws Exception {
        Semaphore room = new Semaphore(inFlight);
        AtomicReference<String> failure = new AtomicReference<>();
        List<Op> batch = new ArrayList<>();
        int bytes = 0;
        int batches = 0;
        for (int i = 0; i <= nodes.size(); i++) {
            Node n = i < nodes.size() ? nodes.get(i) : null;
            int size = n == null ? 0 : n.path.length() + n.data.length + 64;
            if (!batch.isEmpty() && (n == null || batch.size() >= batchOps || bytes + size > batchBytes)) {
                room.acquire();
                if (failure.get() != null) break;
                List<Op> ops = batch;
                zk.multi(ops, (rc, p, ctx, results) -> {
                    if (rc != 0) failure.compareAndSet(null, "multi of " + ops.size() + " creates: " + KeeperException.Code.get(rc));
                    room.release();
                }, null);
                batches++;
                batch = new ArrayList<>();
                bytes = 0;
            }
            if (n == null) break;
            batch.add(Op.create(n.path, n.data, ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT));
            bytes += size;
        }
        room.acquire(inFlight);
        if (failure.get() != null) throw new IllegalStateException(failure.get());
        return batches;
    }

    static String hex(byte[] b) {
        return HexFormat.of().formatHex(b);
    }

    public static void main(String[] args) throws Exception {
        String mode = args[0];
        if (mode.equals("copy")) {
            int batchOps = args.length > 4 ? Integer.parseInt(args[4]) : 1000;
            int batchBytes = args.length > 5 ? Integer.parseInt(args[5]) : 900_000;
            int inFlight = args.length > 6 ? Integer.parseInt(args[6]) : 1;
            ZooKeeper src = connect(args[1]);
            ZooKeeper dst = connect(args[2]);
            try {
                long t0 = System.nanoTime();
                List<Node> nodes = readTree(src, args[3], false);
                long t1 = System.nanoTime();
                int batches = writeTree(dst, nodes, batchOps, batchBytes, inFlight);
                long t2 = System.nanoTime();
                System.out.println("read " + nodes.size() + " nodes in " + (t1 - t0) / 1_000_000 + " ms; wrote " + nodes.size() + " nodes in "
                    + (t2 - t1) / 1_000_000 + " ms in " + batches + " multi(s)");
            } finally {
                src.close();
                dst.close();
            }
        } else if (mode.equals("read")) {
            ZooKeeper zk = connect(args[1]);
            try {
                long t0 = System.nanoTime();
                List<Node> nodes = readTree(zk, args[2], false);
                System.out.println("read " + nodes.size() + " nodes in " + (System.nanoTime() - t0) / 1_000_000 + " ms");
            } finally {
                zk.close();
            }
        } else if (mode.equals("digest")) {
            ZooKeeper zk = connect(args[1]);
            try {
                // The server may not have applied the copy's last writes yet (a quorum acknowledged them): catch up first.
                CountDownLatch synced = new CountDownLatch(1);
                zk.sync(args[2], (rc, p, ctx) -> synced.countDown(), null);
                if (!synced.await(30, TimeUnit.SECONDS)) throw new IllegalStateException("sync " + args[2] + " not answered");
                long t0 = System.nanoTime();
                List<Node> nodes = readTree(zk, args[2], true);
                long t1 = System.nanoTime();
                MessageDigest data = MessageDigest.getInstance("SHA-256");
                MessageDigest full = MessageDigest.getInstance("SHA-256");
                long persistent = 0;
                for (Node n : nodes) {
                    String sha = hex(MessageDigest.getInstance("SHA-256").digest(n.data));
                    data.update((n.path + "\t" + sha + "\n").getBytes(StandardCharsets.UTF_8));
                    if (n.stat.getEphemeralOwner() != 0) continue;
                    persistent++;
                    // The server counts creates and reports cversion = 2 * creates - numChildren: the next sequence number.
                    StringBuilder line = new StringBuilder(n.path).append('\t').append(sha).append('\t')
                        .append((n.stat.getCversion() + n.stat.getNumChildren()) / 2);
                    for (ACL a : n.acl) line.append('\t').append(a.getPerms()).append(':').append(a.getId().getScheme()).append(':').append(a.getId().getId());
                    full.update(line.append('\n').toString().getBytes(StandardCharsets.UTF_8));
                }
                System.out.println("nodes " + nodes.size() + " persistent " + persistent + " data sha256:" + hex(data.digest()) + " full sha256:" + hex(full.digest())
                    + " read in " + (t1 - t0) / 1_000_000 + " ms");
            } finally {
                zk.close();
            }
        } else {
            throw new IllegalArgumentException("usage: ZkCopy copy SRC DST ROOT [BATCH_OPS BATCH_BYTES IN_FLIGHT] | read SERVER ROOT | digest SERVER ROOT");
        }
    }
}
