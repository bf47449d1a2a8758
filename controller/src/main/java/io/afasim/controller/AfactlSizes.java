package io.afasim.controller;

/**
 * Sizes on afactl's command line ({@code 4G}, {@code 512M}, {@code 65536}; K/M/G/T/P are powers of 1024, an optional
 * trailing {@code B} or {@code iB} is accepted) and in its tables ({@code 4 GiB}, {@code 1.5 MiB}).
 */
public final class AfactlSizes
{
    private static final String UNITS = "KMGTP";
    private static final String[] UNIT_NAMES = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};

    private AfactlSizes()
    {
    }

    /**
     * Parses a size; it must be a positive multiple of {@link AdminProtocol#BLOCK_LENGTH_BYTES}.
     *
     * @throws IllegalArgumentException with a one-line reason.
     */
    public static long parseBytes(final String text)
    {
        final String upper = text.trim().toUpperCase(java.util.Locale.ROOT);
        final boolean binarySuffix = upper.endsWith("IB");
        String number = binarySuffix ? upper.substring(0, upper.length() - 2) :
            upper.endsWith("B") ? upper.substring(0, upper.length() - 1) : upper;
        int shift = 0;
        final int unit = number.isEmpty() ? -1 : UNITS.indexOf(number.charAt(number.length() - 1));
        if (unit >= 0)
        {
            shift = 10 * (unit + 1);
            number = number.substring(0, number.length() - 1);
        }
        else if (binarySuffix)
        {
            number = "";
        }
        if (number.isEmpty() || number.length() > 18 || !number.chars().allMatch(c -> c >= '0' && c <= '9'))
        {
            throw new IllegalArgumentException("'" + text + "' is not a size (a number with an optional K, M, G, T " +
                "or P suffix, powers of 1024, e.g. 4G)");
        }
        final long value = Long.parseLong(number);
        if (value > (Long.MAX_VALUE >> shift))
        {
            throw new IllegalArgumentException("'" + text + "' is too large");
        }
        final long bytes = value << shift;
        if (bytes <= 0 || bytes % AdminProtocol.BLOCK_LENGTH_BYTES != 0)
        {
            throw new IllegalArgumentException("'" + text + "' is not a positive multiple of " +
                AdminProtocol.BLOCK_LENGTH_BYTES + " bytes");
        }
        return bytes;
    }

    /** {@code 0 B}, {@code 512 B}, {@code 4 KiB}, {@code 1.5 MiB}, {@code 4 GiB}: whole numbers without decimals, others rounded down to one. */
    public static String format(final long bytes)
    {
        if (bytes < 1024 && bytes > -1024)
        {
            return bytes + " B";
        }
        int unit = 0;
        double value = bytes;
        while ((value >= 1024 || value <= -1024) && unit < UNIT_NAMES.length - 1)
        {
            value /= 1024;
            unit++;
        }
        final long whole = (long)value;
        if (whole == value)
        {
            return whole + " " + UNIT_NAMES[unit];
        }
        return String.format(java.util.Locale.ROOT, "%.1f %s", Math.floor(value * 10) / 10, UNIT_NAMES[unit]);
    }
}
