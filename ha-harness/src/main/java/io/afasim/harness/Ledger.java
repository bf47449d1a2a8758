package io.afasim.harness;

import io.afasim.controller.NbdClient;
import java.io.IOException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.zip.CRC32C;

/**
 * The host's record of what it wrote to one volume and what the array acknowledged: per 4 KiB block (LBA), the
 * last version sent and the last version acknowledged (an OK NBD reply arrived). Versions of a block count 1, 2, ..
 * and a block has at most one write in flight (see {@link LedgerWriter}), so after any crash, failover or error
 * the block must read back as
 * <ul>
 *   <li>its last acknowledged version, or</li>
 *   <li>a later version that was sent but never acknowledged (in flight at a crash, or answered with an error:
 *       the host cannot know whether it landed), or zeroes if no version was ever acknowledged,</li>
 * </ul>
 * never an older version (a lost acknowledged write), never a torn, damaged or misdirected block, never a version
 * that was not sent. {@link #verify(String)} reads every block of the ledger's range back through any controller
 * and reports each block that breaks this rule ({@link LedgerReport}); the block format is {@link LedgerBlock}.
 * <p>
 * Threads: while a {@link LedgerWriter} runs, each block's entries belong to the one connection thread whose stripe
 * holds it; the writer releases the ledger when its last thread has ended, and only then can it be verified or
 * written by a next writer (its versions continue). A write left in doubt on a connection to a controller that is
 * still alive could land later; scenarios end such connections only by killing that controller.
 */
public final class Ledger
{
    public static final int BLOCK_COUNT_MAX = 1 << 20;
    /** Blocks per NBD read while verifying (256 KiB). */
    static final int VERIFY_BLOCKS_PER_READ = 64;

    private final String volume;
    private final long volumeTag;
    private final int blockCount;
    private final long seed;
    private final long[] sentVersion;
    private final long[] acknowledgedVersion;
    private final boolean[] inFlight;
    private final AtomicBoolean writing = new AtomicBoolean();

    /** A ledger for the first {@code sizeBytes} of {@code volume} (whole 4 KiB blocks); contents derive from seed. */
    public Ledger(final String volume, final long sizeBytes, final long seed)
    {
        if (sizeBytes % LedgerBlock.BLOCK_SIZE_BYTES != 0 || sizeBytes < LedgerBlock.BLOCK_SIZE_BYTES ||
            sizeBytes / LedgerBlock.BLOCK_SIZE_BYTES > BLOCK_COUNT_MAX)
        {
            throw new IllegalArgumentException("sizeBytes=" + sizeBytes + " must be whole 4 KiB blocks, 1 to " +
                BLOCK_COUNT_MAX);
        }
        this.volume = volume;
        this.volumeTag = LedgerBlock.volumeTag(volume);
        this.blockCount = (int)(sizeBytes / LedgerBlock.BLOCK_SIZE_BYTES);
        this.seed = seed;
        this.sentVersion = new long[blockCount];
        this.acknowledgedVersion = new long[blockCount];
        this.inFlight = new boolean[blockCount];
    }

    public String volume()
    {
        return volume;
    }

    public int blockCount()
    {
        return blockCount;
    }

    public long seed()
    {
        return seed;
    }

    long volumeTag()
    {
        return volumeTag;
    }

    /** Blocks with at least one acknowledged write (read it when no writer runs). */
    public int acknowledgedBlocks()
    {
        requireIdle("count");
        int count = 0;
        for (final long version : acknowledgedVersion)
        {
            count += version > 0 ? 1 : 0;
        }
        return count;
    }

    /** The last acknowledged version of {@code lba} (0: none); read it when no writer runs. */
    public long acknowledgedVersion(final int lba)
    {
        requireIdle("read");
        return acknowledgedVersion[lba];
    }

    /** The last version sent to {@code lba} (0: none); read it when no writer runs. */
    public long sentVersion(final int lba)
    {
        requireIdle("read");
        return sentVersion[lba];
    }

    // ------------------------------------------------------------------ writer side (the block's connection thread)

    void claim()
    {
        if (!writing.compareAndSet(false, true))
        {
            throw new IllegalStateException("ledger of " + volume + " already has a running writer");
        }
    }

    void release()
    {
        writing.set(false);
    }

    boolean isInFlight(final int lba)
    {
        return inFlight[lba];
    }

    /** The version about to be sent to {@code lba}, which must have nothing in flight. */
    long beginWrite(final int lba)
    {
        if (inFlight[lba])
        {
            throw new IllegalStateException("lba " + lba + " of " + volume + " already has a write in flight");
        }
        inFlight[lba] = true;
        return ++sentVersion[lba];
    }

    void onAcknowledged(final int lba, final long version)
    {
        if (!inFlight[lba] || version != sentVersion[lba] || version <= acknowledgedVersion[lba])
        {
            throw new IllegalStateException("lba " + lba + " of " + volume + ": acknowledgement of version " +
                version + " but sent " + sentVersion[lba] + ", acknowledged " + acknowledgedVersion[lba] +
                ", in flight " + inFlight[lba]);
        }
        acknowledgedVersion[lba] = version;
        inFlight[lba] = false;
    }

    /** An error reply, or the connection ended with the write outstanding: the version stays in doubt. */
    void onInDoubt(final int lba)
    {
        inFlight[lba] = false;
    }

    // ------------------------------------------------------------------ verification

    /**
     * Reads every block of the ledger's range from {@code uri} ({@code nbd://HOST:PORT/EXPORT}: any controller that
     * serves the volume) and checks it against the ledger. Needs no writer running.
     */
    public LedgerReport verify(final String uri) throws IOException
    {
        requireIdle("verify");
        final NbdUri address = NbdUri.parse(uri);
        final LedgerReport report = new LedgerReport(volume, uri, seed);
        final byte[] buffer = new byte[VERIFY_BLOCKS_PER_READ * LedgerBlock.BLOCK_SIZE_BYTES];
        final CRC32C crc = new CRC32C();
        final byte[] expected = new byte[LedgerBlock.BLOCK_SIZE_BYTES];
        try (NbdClient client = NbdClient.connect(address.host(), address.port(), address.export()))
        {
            if (client.sizeBytes() < (long)blockCount * LedgerBlock.BLOCK_SIZE_BYTES)
            {
                throw new IOException(uri + " is " + client.sizeBytes() + " bytes, the ledger covers " +
                    (long)blockCount * LedgerBlock.BLOCK_SIZE_BYTES);
            }
            for (int first = 0; first < blockCount; first += VERIFY_BLOCKS_PER_READ)
            {
                final int count = Math.min(VERIFY_BLOCKS_PER_READ, blockCount - first);
                client.read(
                    (long)first * LedgerBlock.BLOCK_SIZE_BYTES, buffer, 0, count * LedgerBlock.BLOCK_SIZE_BYTES);
                for (int i = 0; i < count; i++)
                {
                    check(first + i, buffer, i * LedgerBlock.BLOCK_SIZE_BYTES, report, crc, expected);
                }
            }
        }
        return report;
    }

    /** Checks the block read for {@code lba} (at {@code block[offset]}) and records the verdict in the report. */
    void check(
        final int lba, final byte[] block, final int offset, final LedgerReport report, final CRC32C crc,
        final byte[] expected)
    {
        final long acknowledged = acknowledgedVersion[lba];
        final long sent = sentVersion[lba];
        if (LedgerBlock.isZero(block, offset))
        {
            if (acknowledged > 0)
            {
                report.lost(lba, "reads zeroes (never written) but version " + acknowledged + " was acknowledged");
            }
            else
            {
                report.unwritten(sent > 0);
            }
            return;
        }
        if (!LedgerBlock.isWhole(block, offset, crc))
        {
            report.torn(lba, "torn or damaged (magic or crc32c wrong); acknowledged " + acknowledged + ", sent up to " +
                sent);
            return;
        }
        final long tag = LedgerBlock.getLong(block, offset + LedgerBlock.TAG_OFFSET);
        final long blockLba = LedgerBlock.getLong(block, offset + LedgerBlock.LBA_OFFSET);
        final long version = LedgerBlock.getLong(block, offset + LedgerBlock.VERSION_OFFSET);
        final long blockSeed = LedgerBlock.getLong(block, offset + LedgerBlock.SEED_OFFSET);
        if (tag != volumeTag || blockLba != lba || blockSeed != seed)
        {
            report.misdirected(lba, "holds " + (tag == volumeTag ? "this volume's" : "another volume's (tag " +
                Long.toHexString(tag) + ")") + " block for lba " + blockLba + ", version " + version +
                (blockSeed == seed ? "" : ", seed " + blockSeed));
            return;
        }
        if (version < acknowledged)
        {
            report.lost(lba, "reads version " + version + ", older than the acknowledged version " + acknowledged);
            return;
        }
        if (version > sent)
        {
            report.unexpected(lba, "reads version " + version + ", which was never sent (sent up to " + sent + ")");
            return;
        }
        LedgerBlock.fill(expected, 0, volumeTag, lba, version, seed, crc);
        if (!java.util.Arrays.equals(expected, 0, LedgerBlock.BLOCK_SIZE_BYTES, block, offset,
            offset + LedgerBlock.BLOCK_SIZE_BYTES))
        {
            report.torn(lba, "version " + version + " has a valid crc32c but not its content");
            return;
        }
        report.consistent(version > acknowledged);
    }

    private void requireIdle(final String what)
    {
        if (writing.get())
        {
            throw new IllegalStateException("cannot " + what + " the ledger of " + volume + " while a writer runs");
        }
    }
}
