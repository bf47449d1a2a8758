package io.afasim.controller;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/**
 * Reads {@code \n}-terminated UTF-8 lines of at most {@link AdminProtocol#LINE_LENGTH_MAX} bytes from a stream, with
 * buffers of fixed size. A line that is too long is skipped up to its newline and reported, so a server can answer
 * {@code error} and keep the connection; a line that is not UTF-8 is reported the same way.
 */
public final class AdminLineReader
{
    private static final int BUFFER_LENGTH = 8192;

    private final InputStream in;
    private final byte[] buffer = new byte[BUFFER_LENGTH];
    private final byte[] line = new byte[AdminProtocol.LINE_LENGTH_MAX];
    private final CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder()
        .onMalformedInput(CodingErrorAction.REPORT)
        .onUnmappableCharacter(CodingErrorAction.REPORT);
    private int position;
    private int limit;
    private long bytesRead;

    public AdminLineReader(final InputStream in)
    {
        this.in = in;
    }

    /** Bytes consumed so far, newlines included. */
    public long bytesRead()
    {
        return bytesRead;
    }

    /**
     * The next line without its {@code \n}, or null at the end of the stream before any byte of a line.
     *
     * @throws AdminProtocolException when the line is too long, not UTF-8, or the stream ends inside it.
     */
    public String readLine() throws IOException
    {
        int length = 0;
        boolean tooLong = false;
        while (true)
        {
            if (position == limit && !fill())
            {
                if (length == 0 && !tooLong)
                {
                    return null;
                }
                throw new AdminProtocolException("connection closed in the middle of a line (no \\n after " +
                    length + " bytes)");
            }
            final byte b = buffer[position++];
            bytesRead++;
            if (b == '\n')
            {
                break;
            }
            if (length == line.length)
            {
                tooLong = true;
                continue;
            }
            line[length++] = b;
        }
        if (tooLong)
        {
            throw new AdminProtocolException("line longer than " + AdminProtocol.LINE_LENGTH_MAX + " bytes");
        }
        try
        {
            final CharBuffer chars = decoder.reset().decode(ByteBuffer.wrap(line, 0, length));
            return chars.toString();
        }
        catch (final CharacterCodingException ex)
        {
            throw new AdminProtocolException("line is not valid UTF-8");
        }
    }

    private boolean fill() throws IOException
    {
        final int read = in.read(buffer, 0, buffer.length);
        if (read <= 0)
        {
            return false;
        }
        position = 0;
        limit = read;
        return true;
    }
}
