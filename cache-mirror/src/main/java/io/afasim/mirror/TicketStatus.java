package io.afasim.mirror;

/** What became of a reliable message, by the ticket {@link LinkPublisher} returned for it. */
public enum TicketStatus
{
    /** Not acknowledged yet; its epoch is still the link's current one. */
    PENDING,
    /** The peer received and applied it (its handler returned true) in the epoch it was sent in. */
    ACKED,
    /** Its epoch ended before the peer acknowledged it: it will never be acknowledged (the caller falls back). */
    LOST
}
