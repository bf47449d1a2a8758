package io.afasim.controller;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Codec of the controller's admin protocol, used by the admin endpoint and by {@link AdminClient} / afactl.
 *
 * <pre>
 * transport   TCP, 127.0.0.1:PORT; UTF-8; every line ends with \n (a request line may end with \r\n).
 *             A connection carries any number of request/response exchanges, one at a time.
 *
 * request     COMMAND( ARG)*\n              one line, fields separated by one or more spaces
 *             ARG = key=value               key: [a-z][a-zA-Z0-9_.-]*, value escaped (below)
 *             COMMAND and its keys: see {@link AdminCommand}; a key appears at most once.
 *
 * response    ok[ MESSAGE]\n                or    error MESSAGE\n
 *             (RECORD\n)*                   zero or more records
 *             \n                            one empty line ends the response
 *             MESSAGE: one human line, the rest of the status line, not escaped (control characters
 *             are sent as spaces); for error: what was refused and why.
 *             RECORD = kind=K(\tkey=value)*  fields separated by one TAB, first field always kind=,
 *             values escaped (below); records of several kinds may follow each other.
 *
 * escaping    \\ -> \      \s -> space   \t -> TAB   \n -> LF   \r -> CR   \= -> =
 *             An escaped value never contains a space, TAB, CR or LF. Any other \x is an error.
 *             A raw '=' inside a value is accepted on parse (the first '=' ends the key).
 *
 * limits      line   LINE_LENGTH_MAX bytes (without \n)        args per request  ARGS_MAX
 *             fields per record  FIELDS_MAX                     records           RECORDS_MAX
 *             response  RESPONSE_BYTES_MAX bytes                message           MESSAGE_LENGTH_MAX chars
 * </pre>
 *
 * Argument values are checked here too, so both sides agree: {@code size} is a decimal byte count, a positive
 * multiple of {@link #BLOCK_LENGTH_BYTES}; {@code mode} is {@code wt}, {@code 1wb} or {@code wb}; {@code to} is
 * {@code A} or {@code B}; {@code name}, {@code volume} and {@code id} are non-empty and at most
 * {@link #NAME_LENGTH_MAX} characters. A parse error is an {@link AdminProtocolException} whose message is one line
 * fit to send back as {@code error MESSAGE}.
 */
public final class AdminProtocol
{
    /** Version of this text protocol; reported by {@code status} as {@code adminProtocol=}. */
    public static final int VERSION = 1;
    /** Longest line, request or response, in bytes without the newline. */
    public static final int LINE_LENGTH_MAX = 64 * 1024;
    /** Most arguments in one request (the largest command takes three). */
    public static final int ARGS_MAX = 16;
    /** Most fields in one record, kind included. */
    public static final int FIELDS_MAX = 256;
    /** Most records in one response. */
    public static final int RECORDS_MAX = 100_000;
    /** Most bytes in one response, all lines and newlines included. */
    public static final int RESPONSE_BYTES_MAX = 16 * 1024 * 1024;
    /** Longest status-line message in characters; longer messages are cut on encode. */
    public static final int MESSAGE_LENGTH_MAX = 1024;
    /** Longest key in characters. */
    public static final int KEY_LENGTH_MAX = 64;
    /** Longest volume name or task id in characters. */
    public static final int NAME_LENGTH_MAX = 255;
    /** Volume sizes are whole blocks of this many bytes. */
    public static final int BLOCK_LENGTH_BYTES = 4096;

    public static final List<String> MODES = List.of("wt", "1wb", "wb");
    public static final List<String> NODES = List.of("A", "B");
    /** {@code afactl fault link MODE}: cut both ways, cut what this controller hears, or end the fault. */
    public static final List<String> LINK_FAULTS = List.of("partition", "deaf", "heal");

    private static final String OK = "ok";
    private static final String ERROR = "error";

    private AdminProtocol()
    {
    }

    // ---------------------------------------------------------------------------------------------------- escaping

    /** The value escaped for the wire: {@code \\ \s \t \n \r \=}. */
    public static String escape(final String value)
    {
        int i = 0;
        while (i < value.length() && !needsEscape(value.charAt(i)))
        {
            i++;
        }
        if (i == value.length())
        {
            return value;
        }
        final StringBuilder escaped = new StringBuilder(value.length() + 8).append(value, 0, i);
        for (; i < value.length(); i++)
        {
            final char c = value.charAt(i);
            switch (c)
            {
                case '\\': escaped.append("\\\\"); break;
                case ' ': escaped.append("\\s"); break;
                case '\t': escaped.append("\\t"); break;
                case '\n': escaped.append("\\n"); break;
                case '\r': escaped.append("\\r"); break;
                case '=': escaped.append("\\="); break;
                default: escaped.append(c); break;
            }
        }
        return escaped.toString();
    }

    /** The value with its escapes undone; {@code what} names it in the error message. */
    public static String unescape(final String escaped, final String what) throws AdminProtocolException
    {
        final int backslash = escaped.indexOf('\\');
        if (backslash < 0)
        {
            return escaped;
        }
        final StringBuilder value = new StringBuilder(escaped.length()).append(escaped, 0, backslash);
        for (int i = backslash; i < escaped.length(); i++)
        {
            final char c = escaped.charAt(i);
            if (c != '\\')
            {
                value.append(c);
                continue;
            }
            if (i + 1 == escaped.length())
            {
                throw new AdminProtocolException(what + " ends with a lone backslash (write \\\\ for a backslash)");
            }
            final char next = escaped.charAt(++i);
            switch (next)
            {
                case '\\': value.append('\\'); break;
                case 's': value.append(' '); break;
                case 't': value.append('\t'); break;
                case 'n': value.append('\n'); break;
                case 'r': value.append('\r'); break;
                case '=': value.append('='); break;
                default:
                    throw new AdminProtocolException(what + " has an unknown escape '\\" + printable(next) +
                        "' (known: \\\\ \\s \\t \\n \\r \\=)");
            }
        }
        return value.toString();
    }

    private static boolean needsEscape(final char c)
    {
        return c == '\\' || c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '=';
    }

    // ---------------------------------------------------------------------------------------------------- requests

    /** The request as one line without the trailing newline. */
    public static String encodeRequestLine(final AdminRequest request)
    {
        final StringBuilder line = new StringBuilder(64).append(request.command().wireName());
        for (final Map.Entry<String, String> arg : request.args().entrySet())
        {
            line.append(' ').append(arg.getKey()).append('=').append(escape(arg.getValue()));
        }
        return line.toString();
    }

    /** Writes the request line and its newline; does not flush. */
    public static void writeRequest(final OutputStream out, final AdminRequest request) throws IOException
    {
        final byte[] bytes = (encodeRequestLine(request) + "\n").getBytes(StandardCharsets.UTF_8);
        if (bytes.length - 1 > LINE_LENGTH_MAX)
        {
            throw new AdminProtocolException("request longer than " + LINE_LENGTH_MAX + " bytes");
        }
        out.write(bytes);
    }

    /**
     * Reads and parses the next request, or returns null at the end of the stream. A malformed request throws
     * {@link AdminProtocolException} after its whole line was consumed, so the caller may answer and go on.
     */
    public static AdminRequest readRequest(final AdminLineReader reader) throws IOException
    {
        final String line = reader.readLine();
        return line == null ? null : parseRequest(line);
    }

    /** Parses one request line (without {@code \n}; a trailing {@code \r} is ignored) and checks its arguments. */
    public static AdminRequest parseRequest(final String rawLine) throws AdminProtocolException
    {
        final String line = rawLine.endsWith("\r") ? rawLine.substring(0, rawLine.length() - 1) : rawLine;
        if (line.length() > LINE_LENGTH_MAX)
        {
            throw new AdminProtocolException("request longer than " + LINE_LENGTH_MAX + " bytes");
        }
        for (int i = 0; i < line.length(); i++)
        {
            final char c = line.charAt(i);
            if (c < 0x20 || c == 0x7f)
            {
                throw new AdminProtocolException("request has a raw control character " + printable(c) +
                    " at column " + (i + 1) + " (escape TAB as \\t, LF as \\n, CR as \\r)");
            }
        }
        final String[] tokens = splitOnSpaces(line);
        if (tokens.length == 0)
        {
            throw new AdminProtocolException("empty request (expected COMMAND [key=value ...]; commands: " +
                AdminCommand.wireNames() + ")");
        }
        final AdminCommand command = AdminCommand.fromWireName(tokens[0]);
        if (command == null)
        {
            throw new AdminProtocolException("unknown command '" + shorten(tokens[0]) + "' (commands: " +
                AdminCommand.wireNames() + ")");
        }
        if (tokens.length - 1 > ARGS_MAX)
        {
            throw new AdminProtocolException(command.wireName() + ": more than " + ARGS_MAX + " arguments");
        }
        final LinkedHashMap<String, String> args = new LinkedHashMap<>();
        for (int i = 1; i < tokens.length; i++)
        {
            final String token = tokens[i];
            final int equals = token.indexOf('=');
            if (equals < 0)
            {
                throw new AdminProtocolException(command.wireName() + ": argument '" + shorten(token) +
                    "' is not key=value");
            }
            final String key = token.substring(0, equals);
            checkKey(key, command.wireName() + ": argument '" + shorten(token) + "'");
            final String value = unescape(token.substring(equals + 1), command.wireName() + ": value of '" + key + "'");
            if (args.put(key, value) != null)
            {
                throw new AdminProtocolException(command.wireName() + ": argument '" + key + "' given twice");
            }
        }
        final AdminRequest request = new AdminRequest(command, args);
        check(request);
        return request;
    }

    /** Checks a request's arguments against its command: known keys, required keys present, values well formed. */
    static void check(final AdminRequest request) throws AdminProtocolException
    {
        final AdminCommand command = request.command();
        for (final Map.Entry<String, String> arg : request.args().entrySet())
        {
            if (!command.takes(arg.getKey()))
            {
                throw new AdminProtocolException(command.wireName() + " does not take '" + shorten(arg.getKey()) +
                    "' (takes: " + takes(command) + ")");
            }
            checkValue(command, arg.getKey(), arg.getValue());
        }
        for (final String key : command.requiredKeys())
        {
            if (request.arg(key) == null)
            {
                throw new AdminProtocolException(command.wireName() + " needs '" + key + "=' (takes: " +
                    takes(command) + ")");
            }
        }
    }

    private static void checkValue(final AdminCommand command, final String key, final String value)
        throws AdminProtocolException
    {
        final String what = command.wireName() + ": " + key;
        switch (key)
        {
            case "size":
                parseSizeBytes(value, what);
                break;
            case "mode":
                if (!MODES.contains(value))
                {
                    throw new AdminProtocolException(what + " must be one of wt, 1wb, wb, not '" + shorten(value) + "'");
                }
                break;
            case "to":
                if (!NODES.contains(value))
                {
                    throw new AdminProtocolException(what + " must be A or B, not '" + shorten(value) + "'");
                }
                break;
            default:
                if (value.isEmpty())
                {
                    throw new AdminProtocolException(what + " must not be empty");
                }
                if (value.length() > NAME_LENGTH_MAX)
                {
                    throw new AdminProtocolException(what + " is longer than " + NAME_LENGTH_MAX + " characters");
                }
                break;
        }
    }

    /** A {@code size=} value: decimal digits, a positive multiple of {@link #BLOCK_LENGTH_BYTES}. */
    public static long parseSizeBytes(final String value, final String what) throws AdminProtocolException
    {
        if (value.isEmpty() || value.length() > 19)
        {
            throw new AdminProtocolException(what + " must be a byte count (1 to 19 decimal digits), not '" +
                shorten(value) + "'");
        }
        long sizeBytes = 0;
        for (int i = 0; i < value.length(); i++)
        {
            final char c = value.charAt(i);
            if (c < '0' || c > '9')
            {
                throw new AdminProtocolException(what + " must be a byte count in decimal digits, not '" +
                    shorten(value) + "'");
            }
            sizeBytes = sizeBytes * 10 + (c - '0');
            if (sizeBytes < 0)
            {
                throw new AdminProtocolException(what + " is too large: " + shorten(value));
            }
        }
        if (sizeBytes <= 0 || sizeBytes % BLOCK_LENGTH_BYTES != 0)
        {
            throw new AdminProtocolException(what + " must be a positive multiple of " + BLOCK_LENGTH_BYTES +
                " bytes, not " + sizeBytes);
        }
        return sizeBytes;
    }

    private static String takes(final AdminCommand command)
    {
        if (command.requiredKeys().isEmpty() && command.optionalKeys().isEmpty())
        {
            return "no arguments";
        }
        final StringBuilder takes = new StringBuilder();
        for (final String key : command.requiredKeys())
        {
            takes.append(takes.length() > 0 ? " " : "").append(key).append('=');
        }
        for (final String key : command.optionalKeys())
        {
            takes.append(takes.length() > 0 ? " " : "").append('[').append(key).append("=]");
        }
        return takes.toString();
    }

    private static String[] splitOnSpaces(final String line)
    {
        final List<String> tokens = new ArrayList<>();
        int start = -1;
        for (int i = 0; i <= line.length(); i++)
        {
            final boolean space = i == line.length() || line.charAt(i) == ' ';
            if (space && start >= 0)
            {
                tokens.add(line.substring(start, i));
                start = -1;
            }
            else if (!space && start < 0)
            {
                start = i;
            }
        }
        return tokens.toArray(new String[0]);
    }

    // --------------------------------------------------------------------------------------------------- responses

    /**
     * The whole response as text: status line, record lines, empty line.
     *
     * @throws AdminProtocolException when a record breaks the limits or has a bad key (a server answers
     *                                {@link #errorResponseText} instead).
     */
    public static String encodeResponse(final AdminResponse response) throws AdminProtocolException
    {
        if (response.records().size() > RECORDS_MAX)
        {
            throw new AdminProtocolException("response has " + response.records().size() + " records, more than " +
                RECORDS_MAX);
        }
        final StringBuilder text = new StringBuilder(128);
        appendStatusLine(text, response.isOk(), response.message());
        final StringBuilder line = new StringBuilder(128);
        for (final Map<String, String> record : response.records())
        {
            line.setLength(0);
            encodeRecord(line, record);
            if (utf8Length(line) > LINE_LENGTH_MAX)
            {
                throw new AdminProtocolException("record of kind " + shorten(record.get(AdminResponse.KIND_KEY)) +
                    " is longer than " + LINE_LENGTH_MAX + " bytes");
            }
            text.append(line).append('\n');
        }
        text.append('\n');
        if (utf8Length(text) > RESPONSE_BYTES_MAX)
        {
            throw new AdminProtocolException("response longer than " + RESPONSE_BYTES_MAX + " bytes");
        }
        return text.toString();
    }

    /** An {@code error MESSAGE} response as text; never fails (the message is cleaned and cut to one line). */
    public static String errorResponseText(final String message)
    {
        final StringBuilder text = new StringBuilder(message.length() + 8);
        appendStatusLine(text, false, message.isBlank() ? "refused (no reason given)" : message);
        return text.append('\n').toString();
    }

    /** Writes the encoded response; does not flush. */
    public static void writeResponse(final OutputStream out, final AdminResponse response) throws IOException
    {
        out.write(encodeResponse(response).getBytes(StandardCharsets.UTF_8));
    }

    /** Parses a whole response from text (the form {@link #encodeResponse} produces). */
    public static AdminResponse parseResponse(final String text) throws AdminProtocolException
    {
        try
        {
            final AdminLineReader reader = new AdminLineReader(
                new ByteArrayInputStream(text.getBytes(StandardCharsets.UTF_8)));
            final AdminResponse response = readResponse(reader);
            if (reader.readLine() != null)
            {
                throw new AdminProtocolException("text after the end of the response");
            }
            return response;
        }
        catch (final AdminProtocolException ex)
        {
            throw ex;
        }
        catch (final IOException ex)
        {
            throw new IllegalStateException("reading from memory", ex);
        }
    }

    /** Reads one whole response: status line, records, empty line. */
    public static AdminResponse readResponse(final AdminLineReader reader) throws IOException
    {
        final long startBytes = reader.bytesRead();
        final String status = reader.readLine();
        if (status == null)
        {
            throw new AdminProtocolException("connection closed before a response");
        }
        final boolean ok;
        final String message;
        if (status.equals(OK) || status.startsWith(OK + " "))
        {
            ok = true;
            message = status.length() > OK.length() ? status.substring(OK.length() + 1) : "";
        }
        else if (status.startsWith(ERROR + " ") && !status.substring(ERROR.length() + 1).isBlank())
        {
            ok = false;
            message = status.substring(ERROR.length() + 1);
        }
        else
        {
            throw new AdminProtocolException("response does not start with 'ok' or 'error MESSAGE': '" +
                shorten(status) + "'");
        }
        final List<Map<String, String>> records = new ArrayList<>();
        while (true)
        {
            final String line = reader.readLine();
            if (line == null)
            {
                throw new AdminProtocolException("connection closed in the middle of a response (after " +
                    records.size() + " records)");
            }
            if (reader.bytesRead() - startBytes > RESPONSE_BYTES_MAX)
            {
                throw new AdminProtocolException("response longer than " + RESPONSE_BYTES_MAX + " bytes");
            }
            if (line.isEmpty())
            {
                break;
            }
            if (records.size() == RECORDS_MAX)
            {
                throw new AdminProtocolException("response has more than " + RECORDS_MAX + " records");
            }
            records.add(parseRecord(line, records.size() + 1));
        }
        return AdminResponse.of(ok, message, records);
    }

    /** Parses one record line; {@code number} (from 1) names it in error messages. */
    public static Map<String, String> parseRecord(final String line, final int number) throws AdminProtocolException
    {
        final String what = "record " + number;
        final LinkedHashMap<String, String> record = new LinkedHashMap<>();
        int start = 0;
        while (start <= line.length())
        {
            int end = line.indexOf('\t', start);
            if (end < 0)
            {
                end = line.length();
            }
            final String field = line.substring(start, end);
            final int equals = field.indexOf('=');
            if (equals < 0)
            {
                throw new AdminProtocolException(what + ": field '" + shorten(field) + "' is not key=value");
            }
            final String key = field.substring(0, equals);
            checkKey(key, what + ": field '" + shorten(field) + "'");
            if (record.isEmpty() && !key.equals(AdminResponse.KIND_KEY))
            {
                throw new AdminProtocolException(what + " does not start with kind=: '" + shorten(line) + "'");
            }
            if (record.size() == FIELDS_MAX)
            {
                throw new AdminProtocolException(what + " has more than " + FIELDS_MAX + " fields");
            }
            if (record.put(key, unescape(field.substring(equals + 1), what + ": value of '" + key + "'")) != null)
            {
                throw new AdminProtocolException(what + ": key '" + key + "' appears twice");
            }
            start = end + 1;
        }
        if (record.get(AdminResponse.KIND_KEY).isEmpty())
        {
            throw new AdminProtocolException(what + " has an empty kind");
        }
        return record;
    }

    private static void encodeRecord(final StringBuilder line, final Map<String, String> record)
        throws AdminProtocolException
    {
        if (record.isEmpty() || !AdminResponse.KIND_KEY.equals(record.keySet().iterator().next()))
        {
            throw new AdminProtocolException("record does not start with kind: " + shorten(record.toString()));
        }
        if (record.get(AdminResponse.KIND_KEY).isEmpty())
        {
            throw new AdminProtocolException("record has an empty kind");
        }
        if (record.size() > FIELDS_MAX)
        {
            throw new AdminProtocolException("record has more than " + FIELDS_MAX + " fields");
        }
        for (final Map.Entry<String, String> field : record.entrySet())
        {
            checkKey(field.getKey(), "record key '" + shorten(field.getKey()) + "'");
            if (line.length() > 0)
            {
                line.append('\t');
            }
            line.append(field.getKey()).append('=').append(escape(field.getValue()));
        }
    }

    private static void appendStatusLine(final StringBuilder text, final boolean ok, final String message)
    {
        text.append(ok ? OK : ERROR);
        if (!message.isEmpty())
        {
            text.append(' ');
            final int length = Math.min(message.length(), MESSAGE_LENGTH_MAX);
            for (int i = 0; i < length; i++)
            {
                final char c = message.charAt(i);
                text.append(c < 0x20 || c == 0x7f ? ' ' : c);
            }
            if (message.length() > MESSAGE_LENGTH_MAX)
            {
                text.append("...");
            }
        }
        text.append('\n');
    }

    // ------------------------------------------------------------------------------------------------------ common

    private static void checkKey(final String key, final String what) throws AdminProtocolException
    {
        if (key.isEmpty())
        {
            throw new AdminProtocolException(what + " has an empty key");
        }
        if (key.length() > KEY_LENGTH_MAX)
        {
            throw new AdminProtocolException(what + " has a key longer than " + KEY_LENGTH_MAX + " characters");
        }
        final char first = key.charAt(0);
        if (first < 'a' || first > 'z')
        {
            throw new AdminProtocolException(what + ": a key starts with a lowercase letter");
        }
        for (int i = 1; i < key.length(); i++)
        {
            final char c = key.charAt(i);
            final boolean allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '_' || c == '.' || c == '-';
            if (!allowed)
            {
                throw new AdminProtocolException(what + ": a key has only letters, digits, '_', '.', '-'");
            }
        }
    }

    private static int utf8Length(final CharSequence text)
    {
        int length = 0;
        for (int i = 0; i < text.length(); i++)
        {
            final char c = text.charAt(i);
            if (c < 0x80)
            {
                length += 1;
            }
            else if (c < 0x800)
            {
                length += 2;
            }
            else if (Character.isHighSurrogate(c))
            {
                length += 4;
                i++;
            }
            else
            {
                length += 3;
            }
        }
        return length;
    }

    private static String printable(final char c)
    {
        return c < 0x20 || c == 0x7f ? String.format("0x%02x", (int)c) : String.valueOf(c);
    }

    /** A value cut to 60 characters for an error message, control characters made visible. */
    static String shorten(final String value)
    {
        final StringBuilder shown = new StringBuilder();
        final int length = Math.min(value.length(), 60);
        for (int i = 0; i < length; i++)
        {
            final char c = value.charAt(i);
            shown.append(c < 0x20 || c == 0x7f ? "?" : String.valueOf(c));
        }
        return value.length() > 60 ? shown + "..." : shown.toString();
    }
}
