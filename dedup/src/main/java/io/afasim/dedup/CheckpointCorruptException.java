package io.afasim.dedup;

/** A checkpoint image that cannot be read back: recovery stops and says so, rather than guess. */
public final class CheckpointCorruptException extends RuntimeException
{
    private static final long serialVersionUID = 1L;

    public CheckpointCorruptException(final String message)
    {
        super(message);
    }
}
