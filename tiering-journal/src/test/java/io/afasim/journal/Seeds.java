package io.afasim.journal;

/** Seeds for randomized tests: {@code -Dafasim.seed=N} replays a run; a blank value means "pick one". */
final class Seeds
{
    static final String SEED_PROP_NAME = "afasim.seed";

    private Seeds()
    {
    }

    /** The seed to use, printed so that a failing run can be replayed. */
    static long seed(final String testName)
    {
        final String property = System.getProperty(SEED_PROP_NAME);
        final long seed = property == null || property.isBlank() ?
            System.nanoTime() ^ Double.doubleToLongBits(Math.random()) : Long.parseLong(property.trim());
        System.out.println("[afasim] seed=" + seed + " (replay with -D" + SEED_PROP_NAME + "=" + seed + ") " + testName);
        return seed;
    }
}
