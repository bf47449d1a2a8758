package io.afasim.mirror;

/**
 * One acknowledged, not yet destaged change found in NVMe memory by {@link NvmeRecovery#scan}.
 *
 * @param kind        {@link ChangeEntry#KIND_PAGE}, {@link ChangeEntry#KIND_TRIM} or
 *                    {@link ChangeEntry#KIND_WRITE_ZEROES}.
 * @param index       the page slot (PAGE) or the transaction record (otherwise) holding it.
 * @param sequence    global sequence: replay order.
 * @param lba         first block.
 * @param blockCount  1 for a page.
 * @param dataCrc     crc32c of the page (PAGE), 0 otherwise.
 */
public record RecoveredChange(short kind, int index, long sequence, long lba, int blockCount, int dataCrc)
{
    public boolean isPage()
    {
        return kind == ChangeEntry.KIND_PAGE;
    }

    /** True when the change covers {@code block}. */
    public boolean covers(final long block)
    {
        return block >= lba && block - lba < blockCount;
    }

    @Override
    public String toString()
    {
        return ChangeEntry.kindName(kind) + "{seq=" + sequence + ", lba=" + lba + ", blocks=" + blockCount +
            ", " + (isPage() ? "slot=" : "record=") + index + '}';
    }
}
