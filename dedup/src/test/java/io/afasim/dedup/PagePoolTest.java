package io.afasim.dedup;

import io.afasim.journal.Seeds;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;

import static io.afasim.dedup.PagePool.NULL_PAGE_ID;
import static io.afasim.dedup.PagePool.PAGE_SIZE_BYTES;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PagePoolTest
{
    @Test
    void growsByChunkUpToPageCountMaxThenReportsExhaustion()
    {
        final int pageCountMax = PagePool.PAGES_PER_CHUNK * 2 + 3;
        final PagePool pool = new PagePool(pageCountMax);
        assertEquals(0, pool.bytesReserved());
        final Set<Integer> pageIds = new HashSet<>();
        for (int i = 0; i < pageCountMax; i++)
        {
            final int pageId = pool.allocate();
            assertTrue(pageId >= 0 && pageId < pageCountMax, "pageId " + pageId);
            assertTrue(pageIds.add(pageId), "pageId handed out twice: " + pageId);
            assertTrue(pool.isInUse(pageId));
        }
        assertEquals(NULL_PAGE_ID, pool.allocate());
        assertEquals(pageCountMax, pool.pagesInUse());
        assertEquals(0, pool.pagesAvailable());
        assertEquals(3L * PagePool.CHUNK_SIZE_BYTES, pool.bytesReserved());
    }

    @Test
    void releasedPagesAreReusedBeforeNewOnes()
    {
        final PagePool pool = new PagePool(1 << 12);
        final int a = pool.allocate();
        final int b = pool.allocate();
        pool.release(a);
        assertFalse(pool.isInUse(a));
        assertEquals(1, pool.pagesInUse());
        assertEquals(a, pool.allocate());
        assertEquals(2, pool.pagesInUse());
        pool.release(b);
        pool.release(a);
        assertEquals(0, pool.pagesInUse());
        assertEquals(PagePool.CHUNK_SIZE_BYTES, pool.bytesReserved());
    }

    @Test
    void doubleReleaseIsRefused()
    {
        final PagePool pool = new PagePool(16);
        final int pageId = pool.allocate();
        pool.release(pageId);
        assertThrows(IllegalStateException.class, () -> pool.release(pageId));
        assertThrows(IllegalStateException.class, () -> pool.release(12345));
        assertEquals(0, pool.pagesInUse());
    }

    @Test
    void pagesDoNotOverlap()
    {
        final Random random = new Random(Seeds.seed("PagePoolTest.pagesDoNotOverlap"));
        final PagePool pool = new PagePool(PagePool.PAGES_PER_CHUNK * 3);
        final List<Integer> pageIds = new ArrayList<>();
        for (int i = 0; i < PagePool.PAGES_PER_CHUNK * 3; i++)
        {
            final int pageId = pool.allocate();
            pageIds.add(pageId);
            pool.buffer(pageId).setMemory(PagePool.pageOffset(pageId), PAGE_SIZE_BYTES, (byte)pageId);
        }
        for (int i = 0; i < 1_000; i++)
        {
            final int pageId = pageIds.get(random.nextInt(pageIds.size()));
            final int offset = random.nextInt(PAGE_SIZE_BYTES);
            assertEquals((byte)pageId, pool.buffer(pageId).getByte(PagePool.pageOffset(pageId) + offset));
        }
    }

    @Test
    void rejectsBadPageCountMax()
    {
        assertThrows(IllegalArgumentException.class, () -> new PagePool(0));
        assertThrows(IllegalArgumentException.class, () -> new PagePool(PagePool.PAGE_COUNT_LIMIT + 1));
    }
}
