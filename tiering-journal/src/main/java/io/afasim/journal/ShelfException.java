package io.afasim.journal;

/** A shelf or drive that cannot be formatted or opened: the message names the drive and what is wrong. */
public final class ShelfException extends RuntimeException
{
    private static final long serialVersionUID = 1L;

    public ShelfException(final String message)
    {
        super(message);
    }

    public ShelfException(final String message, final Throwable cause)
    {
        super(message, cause);
    }
}
