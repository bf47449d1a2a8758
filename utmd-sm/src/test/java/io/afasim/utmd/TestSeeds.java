package io.afasim.utmd;

import java.util.concurrent.ThreadLocalRandom;

/**
 * Seeds of randomized tests: -Dafasim.seed=N replays; blank (Maven passes "" when unset) means pick one.
 */
final class TestSeeds
{
    private TestSeeds()
    {
    }

    static long seed()
    {
        final String property = System.getProperty("afasim.seed");
        final long seed = null == property || property.isBlank() ?
            ThreadLocalRandom.current().nextLong() : Long.parseLong(property.trim());
        System.out.println("[afasim] seed=" + seed + " (replay with -Dafasim.seed=" + seed + ")");
        return seed;
    }
}
