package io.afasim.controller;

/**
 * What the controller knows of a volume besides its data: name, size, write mode, online. Changed
 * only on the volume's agent thread (under quiesce) or before the agent starts; read from any thread.
 */
final class VolumeState
{
    private final int volumeId;
    private final String name;
    private final long sizeBytes;
    /** The running mode: the configured one, or 1WB while a WB volume has no peer to mirror to. */
    private volatile WriteModeSetting mode;
    /** The mode in the volume table (the operator's choice). */
    private volatile WriteModeSetting configuredMode;
    private volatile boolean online;

    VolumeState(final int volumeId, final String name, final long sizeBytes, final WriteModeSetting mode, final boolean online)
    {
        this.volumeId = volumeId;
        this.name = name;
        this.sizeBytes = sizeBytes;
        this.mode = mode;
        this.configuredMode = mode;
        this.online = online;
    }

    WriteModeSetting configuredMode()
    {
        return configuredMode;
    }

    void configuredMode(final WriteModeSetting mode)
    {
        this.configuredMode = mode;
    }

    int volumeId()
    {
        return volumeId;
    }

    String name()
    {
        return name;
    }

    long sizeBytes()
    {
        return sizeBytes;
    }

    WriteModeSetting mode()
    {
        return mode;
    }

    void mode(final WriteModeSetting mode)
    {
        this.mode = mode;
    }

    boolean online()
    {
        return online;
    }

    void online(final boolean online)
    {
        this.online = online;
    }
}
