package io.afasim.mirror;

/** Where a {@link Link} is: {@code DOWN -> CONNECTING -> UP}, back to CONNECTING (via DOWN) after a loss. */
public enum LinkState
{
    /** Not started yet, or between a loss and the new epoch's channels. */
    DOWN,
    /** A new epoch's channels are open; handshaking with the peer. */
    CONNECTING,
    /** Both sides have exchanged handshakes for their current epochs: messages flow and are acknowledged. */
    UP,
    /** {@link Link#close()} was called. */
    CLOSED
}
