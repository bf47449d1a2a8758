package io.afasim.controller;

import java.io.IOException;

/** An NBD error reply (errno != 0) or a refused option, as seen by {@link NbdClient}. */
public final class NbdException extends IOException {
    private static final long serialVersionUID = 1L;
    private final int errno;

    public NbdException(final int errno, final String message) {
        super(message);
        this.errno = errno;
    }

    /** The NBD errno of a failed request (0 for handshake failures). */
    public int errno() {
        return errno;
    }
}
