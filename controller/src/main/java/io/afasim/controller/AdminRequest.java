package io.afasim.controller;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * One admin request: a command and its {@code key=value} arguments in the order given. Build with {@link #of} (which
 * checks the request against {@link AdminCommand}'s table) or get one from {@link AdminProtocol#parseRequest}.
 */
public final class AdminRequest
{
    private final AdminCommand command;
    private final Map<String, String> args;

    AdminRequest(final AdminCommand command, final LinkedHashMap<String, String> args)
    {
        this.command = Objects.requireNonNull(command, "command");
        this.args = Collections.unmodifiableMap(args);
    }

    /**
     * A request from a command and alternating keys and values; a null value leaves that argument out (handy for
     * optional arguments). Throws {@link IllegalArgumentException} when the request would not parse on the other side.
     */
    public static AdminRequest of(final AdminCommand command, final String... keysAndValues)
    {
        if (keysAndValues.length % 2 != 0)
        {
            throw new IllegalArgumentException("keys and values must come in pairs, got " + keysAndValues.length);
        }
        final LinkedHashMap<String, String> args = new LinkedHashMap<>();
        for (int i = 0; i < keysAndValues.length; i += 2)
        {
            if (keysAndValues[i + 1] != null && args.put(keysAndValues[i], keysAndValues[i + 1]) != null)
            {
                throw new IllegalArgumentException("duplicate argument '" + keysAndValues[i] + "'");
            }
        }
        final AdminRequest request = new AdminRequest(command, args);
        try
        {
            AdminProtocol.check(request);
        }
        catch (final AdminProtocolException ex)
        {
            throw new IllegalArgumentException(ex.getMessage(), ex);
        }
        return request;
    }

    public AdminCommand command()
    {
        return command;
    }

    /** The arguments in request order; unmodifiable. */
    public Map<String, String> args()
    {
        return args;
    }

    /** The value of an argument, or null when it was not given. */
    public String arg(final String key)
    {
        return args.get(key);
    }

    @Override
    public boolean equals(final Object other)
    {
        return other instanceof AdminRequest &&
            ((AdminRequest)other).command == command &&
            ((AdminRequest)other).args.equals(args);
    }

    @Override
    public int hashCode()
    {
        return command.hashCode() * 31 + args.hashCode();
    }

    /** The request as its wire line, without the trailing newline. */
    @Override
    public String toString()
    {
        return AdminProtocol.encodeRequestLine(this);
    }
}
