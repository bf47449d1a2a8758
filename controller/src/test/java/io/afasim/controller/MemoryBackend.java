package io.afasim.controller;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * Test backend: in-memory exports made of sparse 4 KiB pages (a page never written, or trimmed, is a hole, so
 * block status reports holes). Requests are applied in submission order on the backend's own thread and each
 * drained batch is completed in a shuffled (seeded) order, which exercises cross-thread and out-of-order
 * completion. An export can be switched offline: its requests then complete with EIO.
 */
final class MemoryBackend implements NbdBackend, AutoCloseable {
    static final int PAGE_BYTES = 4096;
    static final int QUEUE_CAPACITY = 1 << 16;
    static final int BATCH_MAX = 64;

    static final class MemoryExport {
        final ExportInfo info;
        volatile boolean online = true;
        final Map<Long, byte[]> pages = new HashMap<>();

        MemoryExport(final ExportInfo info) {
            this.info = info;
        }
    }

    private final List<MemoryExport> exports = new ArrayList<>();
    private final BlockingQueue<HostRequest> queue = new ArrayBlockingQueue<>(QUEUE_CAPACITY);
    private final Random random;
    private final Thread thread;
    private volatile boolean running = true;
    private final Object pauseLock = new Object();
    private boolean paused;
    private final java.util.concurrent.atomic.AtomicInteger pending = new java.util.concurrent.atomic.AtomicInteger();
    /** Requests applied, by command number (0..7). */
    final AtomicLongArray commandCounts = new AtomicLongArray(8);
    /** Requests that carried FUA. */
    final AtomicLongArray fuaCounts = new AtomicLongArray(1);

    MemoryBackend(final long seed, final ExportInfo... infos) {
        for (final ExportInfo info : infos) {
            exports.add(new MemoryExport(info));
        }
        random = new Random(seed);
        thread = new Thread(this::run, "memory-backend");
        thread.setDaemon(true);
        thread.start();
    }

    static ExportInfo export(final int id, final String name, final long sizeBytes) {
        return new ExportInfo(id, name, "memory export " + name, sizeBytes, false, true, true, 1, 4096,
            32 * 1024 * 1024);
    }

    /** Holds submitted requests (no completion) until {@link #unpause()}. */
    void pause() {
        synchronized (pauseLock) {
            paused = true;
        }
    }

    void unpause() {
        synchronized (pauseLock) {
            paused = false;
            pauseLock.notifyAll();
        }
    }

    /** Requests submitted and not yet completed. */
    int pending() {
        return pending.get();
    }

    void setOnline(final String name, final boolean online) {
        find(name).online = online;
    }

    @Override
    public List<ExportInfo> exports() {
        final List<ExportInfo> infos = new ArrayList<>();
        for (final MemoryExport export : exports) {
            infos.add(export.info.withOnline(export.online));
        }
        return infos;
    }

    @Override
    public ExportInfo open(final String name) {
        for (final MemoryExport export : exports) {
            if (export.info.name().equals(name)) {
                return export.info.withOnline(export.online);
            }
        }
        return null;
    }

    @Override
    public void submit(final HostRequest request) {
        pending.incrementAndGet();
        if (!queue.offer(request)) {
            pending.decrementAndGet();
            request.complete(HostRequest.ENOMEM);
        }
    }

    /** Bytes of an export as the backend holds them (holes read as zeroes). */
    synchronized byte[] contents(final String name, final long offsetBytes, final int lengthBytes) {
        final MemoryExport export = find(name);
        final byte[] result = new byte[lengthBytes];
        for (int done = 0; done < lengthBytes; ) {
            final long position = offsetBytes + done;
            final int inPage = (int)(position % PAGE_BYTES);
            final int n = Math.min(PAGE_BYTES - inPage, lengthBytes - done);
            final byte[] page = export.pages.get(position / PAGE_BYTES);
            if (page != null) {
                System.arraycopy(page, inPage, result, done, n);
            }
            done += n;
        }
        return result;
    }

    synchronized int allocatedPages(final String name) {
        return find(name).pages.size();
    }

    private MemoryExport find(final String name) {
        for (final MemoryExport export : exports) {
            if (export.info.name().equals(name)) {
                return export;
            }
        }
        throw new IllegalArgumentException("no export " + name);
    }

    private MemoryExport byId(final int exportId) {
        for (final MemoryExport export : exports) {
            if (export.info.exportId() == exportId) {
                return export;
            }
        }
        return null;
    }

    private void run() {
        final List<HostRequest> batch = new ArrayList<>(BATCH_MAX);
        final int[] errnos = new int[BATCH_MAX];
        while (running) {
            try {
                final HostRequest first = queue.poll(100, TimeUnit.MILLISECONDS);
                if (first == null) {
                    continue;
                }
                batch.add(first);
                queue.drainTo(batch, BATCH_MAX - 1);
                synchronized (pauseLock) {
                    while (paused && running) {
                        pauseLock.wait(100);
                    }
                }
                synchronized (this) {
                    for (final HostRequest request : batch) {
                        commandCounts.incrementAndGet(request.command());
                        if (request.hasFlag(HostRequest.FUA)) {
                            fuaCounts.incrementAndGet(0);
                        }
                    }
                }
                final Integer[] order = new Integer[batch.size()];
                for (int i = 0; i < batch.size(); i++) {
                    errnos[i] = apply(batch.get(i));
                    order[i] = i;
                }
                Collections.shuffle(java.util.Arrays.asList(order), random);
                for (final int index : order) {
                    pending.decrementAndGet();
                    batch.get(index).complete(errnos[index]);
                }
                batch.clear();
            } catch (final InterruptedException ex) {
                return;
            }
        }
    }

    private synchronized int apply(final HostRequest request) {
        final MemoryExport export = byId(request.exportId());
        if (export == null) {
            return HostRequest.EINVAL;
        }
        if (!export.online) {
            return HostRequest.EIO;
        }
        final long end = request.offsetBytes() + request.lengthBytes();
        if (end > export.info.sizeBytes()) {
            throw new IllegalStateException("server let an out-of-range request through: " + request);
        }
        switch (request.command()) {
            case HostRequest.READ -> read(export, request);
            case HostRequest.WRITE -> write(export, request);
            case HostRequest.FLUSH -> {
            }
            case HostRequest.TRIM -> zero(export, request.offsetBytes(), end, true);
            case HostRequest.WRITE_ZEROES -> zero(export, request.offsetBytes(), end, !request.hasFlag(HostRequest.NO_HOLE));
            case HostRequest.BLOCK_STATUS -> blockStatus(export, request);
            default -> {
                return HostRequest.EINVAL;
            }
        }
        return 0;
    }

    private static void read(final MemoryExport export, final HostRequest request) {
        final long offset = request.offsetBytes();
        final int length = (int)request.lengthBytes();
        for (int done = 0; done < length; ) {
            final long position = offset + done;
            final int inPage = (int)(position % PAGE_BYTES);
            final int n = Math.min(PAGE_BYTES - inPage, length - done);
            final byte[] page = export.pages.get(position / PAGE_BYTES);
            if (page == null) {
                request.data().setMemory(done, n, (byte)0);
            } else {
                request.data().putBytes(done, page, inPage, n);
            }
            done += n;
        }
    }

    private static void write(final MemoryExport export, final HostRequest request) {
        final long offset = request.offsetBytes();
        final int length = (int)request.lengthBytes();
        for (int done = 0; done < length; ) {
            final long position = offset + done;
            final int inPage = (int)(position % PAGE_BYTES);
            final int n = Math.min(PAGE_BYTES - inPage, length - done);
            final byte[] page = export.pages.computeIfAbsent(position / PAGE_BYTES, k -> new byte[PAGE_BYTES]);
            request.data().getBytes(done, page, inPage, n);
            done += n;
        }
    }

    private static void zero(final MemoryExport export, final long from, final long to, final boolean punch) {
        for (long position = from; position < to; ) {
            final long pageIndex = position / PAGE_BYTES;
            final int inPage = (int)(position % PAGE_BYTES);
            final int n = (int)Math.min(PAGE_BYTES - inPage, to - position);
            if (punch && n == PAGE_BYTES) {
                export.pages.remove(pageIndex);
            } else {
                final byte[] page = punch ? export.pages.get(pageIndex)
                    : export.pages.computeIfAbsent(pageIndex, k -> new byte[PAGE_BYTES]);
                if (page != null) {
                    java.util.Arrays.fill(page, inPage, inPage + n, (byte)0);
                }
            }
            position += n;
        }
    }

    private static void blockStatus(final MemoryExport export, final HostRequest request) {
        final BlockStatusSink sink = request.blockStatus();
        final long end = request.offsetBytes() + request.lengthBytes();
        for (long position = request.offsetBytes(); position < end; ) {
            final long pageIndex = position / PAGE_BYTES;
            final long n = Math.min(PAGE_BYTES - position % PAGE_BYTES, end - position);
            final int flags = export.pages.containsKey(pageIndex) ? 0
                : BlockStatusSink.STATE_HOLE | BlockStatusSink.STATE_ZERO;
            if (!sink.add(n, flags)) {
                return;
            }
            position += n;
        }
    }

    @Override
    public void close() throws InterruptedException {
        running = false;
        thread.interrupt();
        thread.join(10_000);
    }
}
