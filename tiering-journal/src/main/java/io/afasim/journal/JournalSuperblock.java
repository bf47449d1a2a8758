package io.afasim.journal;

import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;
import org.agrona.checksum.Crc32c;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * One superblock slot of the metadata journal (4 KiB on drive 0). Two slots alternate: generation
 * {@code g} lives in slot {@code g % 2} and names bitmap slot {@code g % 2}, so a torn superblock write
 * leaves the previous generation and its bitmap intact.
 *
 * <pre>
 *   0                  8          12         16                24                32
 *   +------------------+----------+----------+-----------------+-----------------+
 *   | magic "AFJSUPER" | version  | minCompat| generation      | checkpoint LSN  |
 *   +------------------+----------+----------+-----------------+-----------------+
 *   32                      40                48          52          56                 64
 *   | replay start position | replay start LSN| replay prev | bitmap slot| bitmap generation|
 *   | (offset = pos mod     |                 | checksum    |            |                  |
 *   |  journal size)        |                 |             |            |                  |
 *   +-----------------------+-----------------+-------------+------------+------------------+
 *   64                   72            76      80                              80+3072   4092  4096
 *   | journal size bytes | descriptor  | zero  | checkpoint descriptor bytes  | zero ... | crc32c |
 *   |                    | length      |       | (opaque, DESCRIPTOR_BYTES_MAX)|          |        |
 *   +--------------------+-------------+-------+------------------------------+----------+--------+
 * </pre>
 *
 * The crc32c covers bytes 0..4091. Positions are logical journal byte positions that only grow
 * (lap * journal size + offset), so the journal never confuses laps. "replay prev checksum" is the
 * checksum of the record before the replay start: the first record replayed must chain to it.
 */
final class JournalSuperblock
{
    static final long MAGIC = 0x5245_5055_534A_4641L; // "AFJSUPER" little-endian
    static final int VERSION = 1;
    static final int MIN_COMPATIBLE_VERSION = 1;
    static final int SLOT_BYTES = Drive.BLOCK_SIZE_BYTES;
    static final int DESCRIPTOR_BYTES_MAX = MetadataJournal.DESCRIPTOR_BYTES_MAX;

    static final int MAGIC_OFFSET = 0;
    static final int VERSION_OFFSET = 8;
    static final int MIN_COMPATIBLE_OFFSET = 12;
    static final int GENERATION_OFFSET = 16;
    static final int CHECKPOINT_LSN_OFFSET = 24;
    static final int REPLAY_START_POSITION_OFFSET = 32;
    static final int REPLAY_START_LSN_OFFSET = 40;
    static final int REPLAY_PREV_CHECKSUM_OFFSET = 48;
    static final int BITMAP_SLOT_OFFSET = 52;
    static final int BITMAP_GENERATION_OFFSET = 56;
    static final int JOURNAL_SIZE_OFFSET = 64;
    static final int DESCRIPTOR_LENGTH_OFFSET = 72;
    static final int DESCRIPTOR_OFFSET = 80;
    static final int CHECKSUM_OFFSET = SLOT_BYTES - 4;

    static
    {
        if (DESCRIPTOR_OFFSET + DESCRIPTOR_BYTES_MAX > CHECKSUM_OFFSET)
        {
            throw new IllegalStateException("descriptor does not fit a superblock slot");
        }
    }

    long generation;
    long checkpointLsn;
    long replayStartPosition;
    long replayStartLsn;
    int replayPrevChecksum;
    int bitmapSlot;
    long bitmapGeneration;
    long journalSizeBytes;
    int descriptorLength;
    final UnsafeBuffer descriptor = new UnsafeBuffer(new byte[DESCRIPTOR_BYTES_MAX]);

    void copyFrom(final JournalSuperblock other)
    {
        generation = other.generation;
        checkpointLsn = other.checkpointLsn;
        replayStartPosition = other.replayStartPosition;
        replayStartLsn = other.replayStartLsn;
        replayPrevChecksum = other.replayPrevChecksum;
        bitmapSlot = other.bitmapSlot;
        bitmapGeneration = other.bitmapGeneration;
        journalSizeBytes = other.journalSizeBytes;
        descriptorLength = other.descriptorLength;
        descriptor.putBytes(0, other.descriptor, 0, other.descriptorLength);
    }

    void descriptor(final DirectBuffer src, final int offset, final int length)
    {
        if (length < 0 || length > DESCRIPTOR_BYTES_MAX)
        {
            throw new IllegalArgumentException("descriptor length=" + length + " not in [0, " + DESCRIPTOR_BYTES_MAX + "]");
        }
        descriptorLength = length;
        if (length > 0)
        {
            descriptor.putBytes(0, src, offset, length);
        }
    }

    int copyDescriptor(final MutableDirectBuffer dst, final int offset)
    {
        if (descriptorLength > 0)
        {
            dst.putBytes(offset, descriptor, 0, descriptorLength);
        }
        return descriptorLength;
    }

    /** Encodes into a 4 KiB block at address {@code block.addressOffset()}, checksum last. */
    void encode(final UnsafeBuffer block)
    {
        assert block.capacity() >= SLOT_BYTES;
        assert descriptorLength >= 0 && descriptorLength <= DESCRIPTOR_BYTES_MAX;
        block.setMemory(0, SLOT_BYTES, (byte)0);
        block.putLong(MAGIC_OFFSET, MAGIC);
        block.putInt(VERSION_OFFSET, VERSION);
        block.putInt(MIN_COMPATIBLE_OFFSET, MIN_COMPATIBLE_VERSION);
        block.putLong(GENERATION_OFFSET, generation);
        block.putLong(CHECKPOINT_LSN_OFFSET, checkpointLsn);
        block.putLong(REPLAY_START_POSITION_OFFSET, replayStartPosition);
        block.putLong(REPLAY_START_LSN_OFFSET, replayStartLsn);
        block.putInt(REPLAY_PREV_CHECKSUM_OFFSET, replayPrevChecksum);
        block.putInt(BITMAP_SLOT_OFFSET, bitmapSlot);
        block.putLong(BITMAP_GENERATION_OFFSET, bitmapGeneration);
        block.putLong(JOURNAL_SIZE_OFFSET, journalSizeBytes);
        block.putInt(DESCRIPTOR_LENGTH_OFFSET, descriptorLength);
        block.putBytes(DESCRIPTOR_OFFSET, descriptor, 0, descriptorLength);
        block.putInt(CHECKSUM_OFFSET, checksum(block));
    }

    /**
     * Decodes and validates a slot.
     *
     * @return null when valid, otherwise why the slot is refused (this object is then unspecified).
     */
    String decode(final UnsafeBuffer block, final long expectedJournalSizeBytes)
    {
        if (block.getLong(MAGIC_OFFSET) != MAGIC)
        {
            return "bad magic 0x" + Long.toHexString(block.getLong(MAGIC_OFFSET));
        }
        final int storedChecksum = block.getInt(CHECKSUM_OFFSET);
        final int computedChecksum = checksum(block);
        if (storedChecksum != computedChecksum)
        {
            return "checksum mismatch (stored 0x" + Integer.toHexString(storedChecksum) + ", computed 0x" +
                Integer.toHexString(computedChecksum) + ")";
        }
        final int minCompatible = block.getInt(MIN_COMPATIBLE_OFFSET);
        if (minCompatible > VERSION)
        {
            return "written by version " + block.getInt(VERSION_OFFSET) + " needing at least " + minCompatible +
                ", this is version " + VERSION;
        }
        generation = block.getLong(GENERATION_OFFSET);
        checkpointLsn = block.getLong(CHECKPOINT_LSN_OFFSET);
        replayStartPosition = block.getLong(REPLAY_START_POSITION_OFFSET);
        replayStartLsn = block.getLong(REPLAY_START_LSN_OFFSET);
        replayPrevChecksum = block.getInt(REPLAY_PREV_CHECKSUM_OFFSET);
        bitmapSlot = block.getInt(BITMAP_SLOT_OFFSET);
        bitmapGeneration = block.getLong(BITMAP_GENERATION_OFFSET);
        journalSizeBytes = block.getLong(JOURNAL_SIZE_OFFSET);
        descriptorLength = block.getInt(DESCRIPTOR_LENGTH_OFFSET);
        if (journalSizeBytes != expectedJournalSizeBytes)
        {
            return "journal size " + journalSizeBytes + " differs from the shelf's " + expectedJournalSizeBytes;
        }
        if (descriptorLength < 0 || descriptorLength > DESCRIPTOR_BYTES_MAX)
        {
            return "descriptor length " + descriptorLength + " not in [0, " + DESCRIPTOR_BYTES_MAX + "]";
        }
        if (bitmapSlot != 0 && bitmapSlot != 1)
        {
            return "bitmap slot " + bitmapSlot;
        }
        if (generation < 0 || checkpointLsn < 0 || replayStartPosition < 0)
        {
            return "negative field (generation " + generation + ", checkpoint lsn " + checkpointLsn +
                ", replay start position " + replayStartPosition + ")";
        }
        if (replayStartLsn < 1 || replayStartLsn > checkpointLsn + 1)
        {
            return "replay start lsn " + replayStartLsn + " not in [1, checkpoint lsn + 1 = " + (checkpointLsn + 1) + "]";
        }
        descriptor.putBytes(0, block, DESCRIPTOR_OFFSET, descriptorLength);
        return null;
    }

    private static int checksum(final UnsafeBuffer block)
    {
        return Crc32c.INSTANCE.compute(block.addressOffset(), 0, CHECKSUM_OFFSET);
    }
}
