package io.afasim.dedup;

import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The checker must catch each kind of corruption, else the model-based tests could pass vacuously. Each case
 * builds a fresh valid tree of height 3, breaks one thing through the page memory and expects check() to name it.
 */
class BTreeCheckTest
{
    private static final int KEY_COUNT = 100_000;

    private PagePool pool;
    private LongBTree tree;

    @BeforeEach
    void setUp()
    {
        pool = new PagePool(1 << 14);
        tree = new LongBTree(pool);
        for (long i = 0; i < KEY_COUNT; i++)
        {
            tree.put(i * 2_654_435_761L % 1_000_000_007L, i);
        }
        tree.check();
        assertEquals(3, tree.height());
    }

    @Test
    void detectsUnsortedKeysInLeaf()
    {
        expectBroken("not <", t ->
        {
            final int leaf = someLeaf(t);
            final long k0 = t.buffer(leaf).getLong(t.keyOffset(leaf, 0));
            final long k1 = t.buffer(leaf).getLong(t.keyOffset(leaf, 1));
            t.buffer(leaf).putLong(t.keyOffset(leaf, 0), k1);
            t.buffer(leaf).putLong(t.keyOffset(leaf, 1), k0);
        });
    }

    @Test
    void detectsKeyOutsideSeparatorBounds()
    {
        expectBroken("separator", t ->
        {
            final int leaf = someLeaf(t);
            t.buffer(leaf).putLong(t.keyOffset(leaf, 0), Long.MIN_VALUE);
        });
    }

    @Test
    void detectsUnderfullNode()
    {
        expectBroken("minimum", t -> t.setCount(someLeaf(t), t.leafCountMin - 1));
    }

    @Test
    void detectsBrokenSiblingLinks()
    {
        expectBroken("prev sibling", t -> t.setPrev(someLeaf(t), PagePool.NULL_PAGE_ID));
    }

    @Test
    void detectsBrokenNextLink()
    {
        expectBroken("next sibling", t -> t.setNext(someLeaf(t), someLeaf(t)));
    }

    @Test
    void detectsWrongSize()
    {
        expectBroken("size()", t -> t.size++);
    }

    @Test
    void detectsPageAccountingMismatch()
    {
        expectBroken("pagesInUse", t -> t.pagesInUse++);
    }

    @Test
    void detectsUnequalLeafDepth()
    {
        expectBroken("kind", t ->
        {
            final int branch = t.child(t.rootPageId, 0);
            final UnsafeBuffer buffer = t.buffer(branch);
            buffer.putInt(BPlusTree.base(branch) + BPlusTree.KIND_OFFSET, BPlusTree.KIND_LEAF);
        });
    }

    @Test
    void detectsSharedChild()
    {
        expectBroken("reached twice", t ->
        {
            final int branch = t.child(t.rootPageId, 0);
            t.setChild(branch, 1, t.child(branch, 0));
        });
    }

    private static int someLeaf(final LongBTree t)
    {
        final int branch = t.child(t.rootPageId, 1);
        return t.child(branch, 1);
    }

    private void expectBroken(final String messagePart, final Consumer<LongBTree> corruption)
    {
        corruption.accept(tree);
        final IllegalStateException ex = assertThrows(IllegalStateException.class, tree::check);
        assertTrue(ex.getMessage().contains(messagePart),
            "message '" + ex.getMessage() + "' lacks '" + messagePart + "'");
    }
}
