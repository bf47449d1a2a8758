package io.afasim.journal;

/**
 * Seeds for randomized tests (shared with dedup and controller tests through this module's test-jar): {@code -Dafasim.seed=N} replays a run, otherwise a fresh seed is drawn. The seed is
 * printed either way. Maven passes an empty {@code afasim.seed} property when unset, so blank means unset.
 */
public final class Seeds
{
    public static final String SEED_PROP_NAME = "afasim.seed";

    private Seeds()
    {
    }

    public static long seed(final String testName)
    {
        final String property = System.getProperty(SEED_PROP_NAME);
        final long seed;
        if (property == null || property.isBlank())
        {
            seed = System.nanoTime() ^ (System.currentTimeMillis() << 20) ^ testName.hashCode();
        }
        else
        {
            try
            {
                seed = Long.parseLong(property.trim());
            }
            catch (final NumberFormatException ex)
            {
                throw new IllegalArgumentException(SEED_PROP_NAME + "=" + property + " is not a long", ex);
            }
        }
        System.out.println(
            "[afasim] seed=" + seed + " (replay with -D" + SEED_PROP_NAME + "=" + seed + ") test=" + testName);
        return seed;
    }
}
