package io.afasim.controller;

import java.io.IOException;

/**
 * A request or response that does not follow the admin protocol ({@link AdminProtocol}). The message is one human
 * line that says what was wrong and where, fit to be sent back as {@code error MESSAGE}.
 */
public final class AdminProtocolException extends IOException
{
    private static final long serialVersionUID = 1L;

    public AdminProtocolException(final String message)
    {
        super(message);
    }
}
