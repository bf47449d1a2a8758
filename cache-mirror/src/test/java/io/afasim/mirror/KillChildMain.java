package io.afasim.mirror;

import java.io.PrintStream;
import java.util.Random;

import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * The child JVM of {@link KillRecoveryTest}: opens the region named by the {@link CacheContext} system
 * properties and writes pages with content fill(volume, lba, sequence) to three volumes until it is killed,
 * printing {@code acked <volume> <lba> <seq>} after each acknowledged write, {@code trim <volume> <lba>
 * <count> <seq>} after each acknowledged TRIM, and {@code durable <volume> <lba> <seq>} /
 * {@code durable-trim <volume> <lba> <count> <seq>} for each change of a destage batch before the batch is
 * freed (the simulated layer below keeps nothing, so the parent takes those lines as its shelf).
 */
public final class KillChildMain
{
    static final int VOLUMES = 3;
    static final int LBAS = 300;
    static final int WRITES_MAX = 1_000_000;

    private KillChildMain()
    {
    }

    public static void main(final String[] args)
    {
        final long seed = Long.parseLong(args[0]);
        final Random random = new Random(seed);
        final PrintStream out = System.out;
        final CacheContext ctx = new CacheContext().conclude();
        final NvmeCache nvme = NvmeCache.openOrCreate(ctx);
        final WriteCache[] caches = new WriteCache[VOLUMES];
        for (int v = 0; v < VOLUMES; v++)
        {
            caches[v] = nvme.newWriteCache(v);
            caches[v].adopt(nvme.recovered(v)); // T1: what the previous child left is destaged by this one
        }
        final StringBuilder durable = new StringBuilder();
        final DestageConsumer consumer = new DestageConsumer()
        {
            public void onPage(final int volumeId, final long lba, final long sequence, final DirectBuffer block,
                final int offset)
            {
                durable.append("durable ").append(volumeId).append(' ').append(lba).append(' ').append(sequence)
                    .append('\n');
            }

            public void onUnmap(final int volumeId, final long lba, final int blockCount, final long sequence,
                final boolean zeroes)
            {
                durable.append("durable-trim ").append(volumeId).append(' ').append(lba).append(' ')
                    .append(blockCount).append(' ').append(sequence).append('\n');
            }
        };
        final UnsafeBuffer block = new UnsafeBuffer(new byte[NvmeRegion.BLOCK_SIZE_BYTES]);
        out.println("ready " + nvme.region().generation());
        out.flush();
        for (int i = 0; i < WRITES_MAX; i++)
        {
            final int v = random.nextInt(VOLUMES);
            final long lba = random.nextInt(LBAS);
            final WriteCache cache = caches[v];
            if (random.nextInt(20) == 0 || cache.isDestageUrgent())
            {
                destage(cache, consumer, durable, out);
            }
            final long sequence = nvme.lastSequence() + 1; // single writer thread: the next sequence
            if (random.nextInt(25) == 0)
            {
                final int count = 1 + random.nextInt(8);
                while (cache.trim(lba, count) == CacheStatus.BACK_PRESSURE)
                {
                    destage(cache, consumer, durable, out);
                }
                out.println("trim " + v + ' ' + lba + ' ' + count + ' ' + sequence);
                out.flush();
                continue;
            }
            TestSupport.fill(block, 0, v, lba, sequence);
            int status = cache.write(lba, block, 0);
            while (status == CacheStatus.BACK_PRESSURE)
            {
                destage(cache, consumer, durable, out);
                status = cache.write(lba, block, 0);
            }
            if (status != CacheStatus.OK || cache.lastSequence() != sequence)
            {
                throw new IllegalStateException("write " + CacheStatus.name(status) + " seq " + cache.lastSequence());
            }
            out.println("acked " + v + ' ' + lba + ' ' + sequence);
            out.flush();
        }
        out.println("done");
        out.flush();
        nvme.close();
    }

    private static void destage(
        final WriteCache cache, final DestageConsumer consumer, final StringBuilder durable, final PrintStream out)
    {
        durable.setLength(0);
        final long batch = cache.destageBatch(16, consumer);
        if (batch != WriteCache.NO_BATCH)
        {
            out.print(durable);
            out.flush();
            cache.onDestaged(batch);
        }
    }
}
