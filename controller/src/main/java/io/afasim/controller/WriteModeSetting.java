package io.afasim.controller;

/** A volume's configured write mode (DESIGN §5); the acknowledgement rule is in the cache layer. */
enum WriteModeSetting
{
    /** Write-through: acknowledged when data and metadata redo are durable on the shelf. */
    WT("wt"),
    /** 1-way write-back: acknowledged when in local NVMe memory. */
    ONE_WAY_WB("1wb"),
    /** Mirrored write-back: needs the peer controller (not available yet). */
    WB("wb");

    private final String label;

    WriteModeSetting(final String label)
    {
        this.label = label;
    }

    String label()
    {
        return label;
    }

    static WriteModeSetting parse(final String text)
    {
        for (final WriteModeSetting mode : values())
        {
            if (mode.label.equalsIgnoreCase(text))
            {
                return mode;
            }
        }
        throw new IllegalArgumentException("unknown write mode '" + text + "' (wt, 1wb, wb)");
    }
}
