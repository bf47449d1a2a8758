package io.afasim.utmd;

/**
 * Invariant checks that stay on in production (TigerStyle asserts). A failed check is a broken invariant:
 * it throws {@link AssertionError}, which the controller treats as fatal (the peer takes over).
 * Operating errors never come here; they are status codes.
 */
final class Verify
{
    private Verify()
    {
    }

    static void invariant(final boolean condition, final String message)
    {
        if (!condition)
        {
            throw new AssertionError(message);
        }
    }

    static void argument(final boolean condition, final String message)
    {
        if (!condition)
        {
            throw new IllegalArgumentException(message);
        }
    }
}
