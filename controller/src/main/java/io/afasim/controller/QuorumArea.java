package io.afasim.controller;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.zip.CRC32C;

/**
 * The quorum area on the shared shelf ({@code shelf/quorum}): one 4 KiB disk-heartbeat slot per controller.
 * Each controller rewrites its own slot every heartbeat interval with a counter that only grows; the peer
 * watches the counter. A peer whose link is silent AND whose counter stopped is down; a silent link with a
 * moving counter is a partition (or a peer busy restarting its link). The file lives in the page cache both
 * processes share, so a slot written by one is read by the other without an fdatasync; liveness needs no
 * durability.
 *
 * <pre>
 *   slot (node id x 4096), little-endian
 *   0            8          12         16            24         32          40          44         4092  4096
 *   +------------+----------+----------+-------------+----------+-----------+-----------+-- zero --+-------+
 *   | "AFAQRM01" | version  | node id  | instance id | counter  | wall ms   | state     |          | crc32c|
 *   +------------+----------+----------+-------------+----------+-----------+-----------+----------+-------+
 * </pre>
 * A slot whose crc32c does not match (torn while the peer wrote it, or never written) reads as "no news".
 */
final class QuorumArea implements AutoCloseable
{
    static final String FILE_NAME = "quorum";
    static final long MAGIC = 0x3130_4D52_5141_4641L; // "AFAQRM01"
    static final int VERSION = 1;
    static final int SLOT_BYTES = 4096;
    static final int NODES_MAX = 2;
    static final int STATE_UP = 1;
    static final int STATE_STOPPED = 2;

    private final FileChannel channel;
    private final int nodeId;
    private final long instanceId;
    private final ByteBuffer mine = ByteBuffer.allocateDirect(SLOT_BYTES).order(ByteOrder.LITTLE_ENDIAN);
    private final ByteBuffer theirs = ByteBuffer.allocateDirect(SLOT_BYTES).order(ByteOrder.LITTLE_ENDIAN);
    private final CRC32C crc = new CRC32C();
    private long counter;

    /** A peer slot as last read; {@code valid} false when it was torn or never written. */
    record PeerSlot(boolean valid, long instanceId, long counter, long wallMs, int state)
    {
        static final PeerSlot NONE = new PeerSlot(false, 0, -1, 0, 0);
    }

    QuorumArea(final Path shelfDir, final int nodeId, final long instanceId) throws IOException
    {
        if (nodeId < 0 || nodeId >= NODES_MAX)
        {
            throw new IllegalArgumentException("node id " + nodeId + " not in [0, " + NODES_MAX + ")");
        }
        this.channel = FileChannel.open(shelfDir.resolve(FILE_NAME),
            StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
        this.nodeId = nodeId;
        this.instanceId = instanceId;
    }

    /** Writes this controller's slot with the next counter value. */
    void beat(final int state, final long wallMs) throws IOException
    {
        counter++;
        mine.clear();
        for (int i = 0; i < SLOT_BYTES; i += 8)
        {
            mine.putLong(i, 0);
        }
        mine.putLong(0, MAGIC).putInt(8, VERSION).putInt(12, nodeId).putLong(16, instanceId)
            .putLong(24, counter).putLong(32, wallMs).putInt(40, state);
        mine.limit(SLOT_BYTES - 4).position(0);
        crc.reset();
        crc.update(mine);
        mine.clear();
        mine.putInt(SLOT_BYTES - 4, (int)crc.getValue());
        int written = 0;
        while (written < SLOT_BYTES)
        {
            written += channel.write(mine, (long)nodeId * SLOT_BYTES + written);
        }
    }

    /** Reads the other controller's slot. */
    PeerSlot readPeer() throws IOException
    {
        final int peer = 1 - nodeId;
        theirs.clear();
        int read = 0;
        while (read < SLOT_BYTES)
        {
            final int n = channel.read(theirs, (long)peer * SLOT_BYTES + read);
            if (n < 0)
            {
                return PeerSlot.NONE; // never written: the file is shorter
            }
            read += n;
        }
        if (theirs.getLong(0) != MAGIC || theirs.getInt(8) != VERSION || theirs.getInt(12) != peer)
        {
            return PeerSlot.NONE;
        }
        theirs.limit(SLOT_BYTES - 4).position(0);
        crc.reset();
        crc.update(theirs);
        theirs.clear();
        if ((int)crc.getValue() != theirs.getInt(SLOT_BYTES - 4))
        {
            return PeerSlot.NONE;
        }
        return new PeerSlot(true, theirs.getLong(16), theirs.getLong(24), theirs.getLong(32), theirs.getInt(40));
    }

    long counter()
    {
        return counter;
    }

    @Override
    public void close() throws IOException
    {
        channel.close();
    }
}
