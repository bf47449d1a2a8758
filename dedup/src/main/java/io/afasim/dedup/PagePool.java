package io.afasim.dedup;

import org.agrona.BufferUtil;
import org.agrona.concurrent.UnsafeBuffer;

import java.util.Arrays;

/**
 * Fixed-size 4 KiB pages in off-heap memory, handed out by int page id.
 * <p>
 * Memory is reserved in direct chunks of {@link #CHUNK_SIZE_BYTES} (256 pages), added on demand up to
 * {@code pageCountMax} pages. A page id maps to its chunk and offset by shift and mask, so the only objects are
 * one {@link UnsafeBuffer} per chunk, the chunk table, a free list of ints and an in-use bit set:
 * <pre>
 *   pageId = chunkIndex &lt;&lt; 8 | pageIndexInChunk
 *   chunk  = chunks[pageId &gt;&gt;&gt; PAGES_PER_CHUNK_SHIFT]
 *   offset = (pageId &amp; PAGES_PER_CHUNK_MASK) &lt;&lt; PAGE_SIZE_SHIFT
 * </pre>
 * Released pages go on a LIFO free list and are reused before new pages are touched. Chunks are never returned
 * to the OS while the pool lives. Single-threaded: the owning agent's thread only. Page contents are not zeroed.
 */
public final class PagePool
{
    public static final int PAGE_SIZE_SHIFT = 12;
    public static final int PAGE_SIZE_BYTES = 1 << PAGE_SIZE_SHIFT;
    public static final int PAGES_PER_CHUNK_SHIFT = 8;
    public static final int PAGES_PER_CHUNK = 1 << PAGES_PER_CHUNK_SHIFT;
    public static final int PAGES_PER_CHUNK_MASK = PAGES_PER_CHUNK - 1;
    public static final int CHUNK_SIZE_BYTES = PAGES_PER_CHUNK * PAGE_SIZE_BYTES;
    /** Page ids are non-negative ints; 2^30 pages = 4 TiB, and chunkCount << 8 stays a positive int. */
    public static final int PAGE_COUNT_LIMIT = 1 << 30;
    public static final int NULL_PAGE_ID = -1;

    private static final int CHUNK_TABLE_LENGTH_INITIAL = 16;

    private final int pageCountMax;
    private UnsafeBuffer[] chunks = new UnsafeBuffer[CHUNK_TABLE_LENGTH_INITIAL];
    private int chunkCount;
    /** Pages below this id have been handed out at least once (in use or on the free list). */
    private int pageCountTouched;
    private int[] freePageIds = new int[0];
    private int freePageCount;
    private long[] inUseBits = new long[0];

    public PagePool(final int pageCountMax)
    {
        if (pageCountMax < 1 || pageCountMax > PAGE_COUNT_LIMIT)
        {
            throw new IllegalArgumentException(
                "pageCountMax=" + pageCountMax + " not in [1, " + PAGE_COUNT_LIMIT + "]");
        }
        this.pageCountMax = pageCountMax;
    }

    /**
     * @return a page id, or {@link #NULL_PAGE_ID} when {@code pageCountMax} pages are in use.
     */
    public int allocate()
    {
        final int pageId;
        if (freePageCount > 0)
        {
            pageId = freePageIds[--freePageCount];
        }
        else if (pageCountTouched < pageCountMax)
        {
            if (pageCountTouched == chunkCount << PAGES_PER_CHUNK_SHIFT)
            {
                addChunk();
            }
            pageId = pageCountTouched++;
        }
        else
        {
            return NULL_PAGE_ID;
        }
        assert !isInUse(pageId) : "free page " + pageId + " marked in use";
        inUseBits[pageId >>> 6] |= 1L << pageId;
        return pageId;
    }

    public void release(final int pageId)
    {
        if (!isInUse(pageId))
        {
            throw new IllegalStateException("release of page " + pageId + " that is not in use");
        }
        inUseBits[pageId >>> 6] &= ~(1L << pageId);
        freePageIds[freePageCount++] = pageId;
        assert freePageCount <= pageCountTouched;
    }

    public boolean isInUse(final int pageId)
    {
        return pageId >= 0 && pageId < pageCountTouched && (inUseBits[pageId >>> 6] & (1L << pageId)) != 0;
    }

    /**
     * Chunk buffer holding the page; use with {@link #pageOffset(int)}.
     */
    public UnsafeBuffer buffer(final int pageId)
    {
        return chunks[pageId >>> PAGES_PER_CHUNK_SHIFT];
    }

    /**
     * Chunk table for hot loops: {@code chunks()[pageId >>> PAGES_PER_CHUNK_SHIFT]}. Replaced when the pool grows.
     */
    public UnsafeBuffer[] chunks()
    {
        return chunks;
    }

    public static int pageOffset(final int pageId)
    {
        return (pageId & PAGES_PER_CHUNK_MASK) << PAGE_SIZE_SHIFT;
    }

    public int pagesInUse()
    {
        return pageCountTouched - freePageCount;
    }

    public int pagesAvailable()
    {
        return pageCountMax - pagesInUse();
    }

    public int pageCountMax()
    {
        return pageCountMax;
    }

    public long bytesReserved()
    {
        return (long)chunkCount * CHUNK_SIZE_BYTES;
    }

    private void addChunk()
    {
        if (chunkCount == chunks.length)
        {
            chunks = Arrays.copyOf(chunks, chunks.length * 2);
        }
        chunks[chunkCount++] = new UnsafeBuffer(BufferUtil.allocateDirectAligned(CHUNK_SIZE_BYTES, PAGE_SIZE_BYTES));

        final int pageCapacity = chunkCount << PAGES_PER_CHUNK_SHIFT;
        freePageIds = Arrays.copyOf(freePageIds, pageCapacity);
        inUseBits = Arrays.copyOf(inUseBits, pageCapacity >>> 6);
        assert freePageCount == 0 : "chunk added while free pages remain";
    }
}
