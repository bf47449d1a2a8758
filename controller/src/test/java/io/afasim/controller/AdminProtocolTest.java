package io.afasim.controller;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class AdminProtocolTest
{
    private static final int ROUNDS = 2_000;
    /** Characters the escaping must survive: the escaped ones, backslash sequences, non-ASCII, a surrogate pair. */
    private static final String[] ALPHABET = {
        "a", "Z", "0", "-", ".", "_", "\\", " ", "\t", "\n", "\r", "=", "\\s", "\\=", "s", "t", "n", "é", "µ", "日",
        "\uD83D\uDE00", "\"", "'", ":", ",", "{", "}"};

    private static long seed;

    @BeforeAll
    static void pickSeed()
    {
        seed = testSeed();
    }

    /**
     * The seed of this run's randomized tests: {@code -Dafasim.seed=N} replays, blank (Maven passes "" when unset)
     * picks one. Printed either way.
     */
    static long testSeed()
    {
        final String property = System.getProperty("afasim.seed", "").trim();
        final long seed = property.isEmpty() ? new java.security.SecureRandom().nextLong() : Long.parseLong(property);
        System.out.println("[afasim] seed=" + seed + " (replay with -Dafasim.seed=" + seed + ")");
        return seed;
    }

    // ------------------------------------------------------------------------------------------------ round trips

    @Test
    void escapingRoundTripsRandomValues() throws AdminProtocolException
    {
        final Random random = new Random(seed);
        for (int round = 0; round < ROUNDS; round++)
        {
            final String value = randomValue(random, 40);
            final String escaped = AdminProtocol.escape(value);
            assertEquals(value, AdminProtocol.unescape(escaped, "value"), "seed=" + seed + " value=" + value);
            for (final char separator : new char[] {' ', '\t', '\n', '\r'})
            {
                assertTrue(escaped.indexOf(separator) < 0, "seed=" + seed + " escaped '" + escaped + "'");
            }
            assertEquals(-1, unescapedEquals(escaped), "seed=" + seed + " escaped '" + escaped + "'");
        }
    }

    @Test
    void escapingIsTheDocumentedOne() throws AdminProtocolException
    {
        assertEquals("a\\\\b\\sc\\td\\ne\\rf\\=g", AdminProtocol.escape("a\\b c\td\ne\rf=g"));
        assertEquals("plain", AdminProtocol.escape("plain"));
        assertEquals("", AdminProtocol.escape(""));
        assertEquals("x y=z", AdminProtocol.unescape("x\\sy\\=z", "v"));
        assertEquals("raw=equals", AdminProtocol.unescape("raw=equals", "v"));
    }

    @Test
    void requestsRoundTripRandomValues() throws AdminProtocolException
    {
        final Random random = new Random(seed + 1);
        for (int round = 0; round < ROUNDS; round++)
        {
            final String name = nonEmpty(randomValue(random, 30));
            final AdminRequest[] requests = {
                AdminRequest.of(AdminCommand.VOLUME_CREATE, "name", name, "size",
                    Long.toString(4096L * (1 + random.nextInt(1 << 20))), "mode",
                    random.nextBoolean() ? null : AdminProtocol.MODES.get(random.nextInt(3))),
                AdminRequest.of(AdminCommand.VOLUME_MOVE, "name", name, "to", random.nextBoolean() ? "A" : "B"),
                AdminRequest.of(AdminCommand.TRACE, "task", random.nextBoolean() ? null : name, "volume", name),
                AdminRequest.of(AdminCommand.STATUS)};
            for (final AdminRequest request : requests)
            {
                final String line = AdminProtocol.encodeRequestLine(request);
                assertFalse(line.contains("\n"), line);
                assertEquals(request, AdminProtocol.parseRequest(line), "seed=" + seed + " line=" + line);
                assertEquals(request, readRequests(line + "\n").get(0), "seed=" + seed + " line=" + line);
            }
        }
    }

    @Test
    void responsesRoundTripRandomRecords() throws AdminProtocolException
    {
        final Random random = new Random(seed + 2);
        for (int round = 0; round < ROUNDS / 4; round++)
        {
            final List<Map<String, String>> records = new ArrayList<>();
            final int recordCount = random.nextInt(6);
            for (int r = 0; r < recordCount; r++)
            {
                final Map<String, String> record = new LinkedHashMap<>();
                record.put("kind", nonEmpty(randomValue(random, 8)));
                final int fieldCount = random.nextInt(8);
                for (int f = 0; f < fieldCount; f++)
                {
                    record.put("k" + f + (random.nextBoolean() ? "Bytes" : ".x-y_z"), randomValue(random, 20));
                }
                records.add(record);
            }
            final String message = random.nextInt(3) == 0 ? "" : nonEmpty(randomValue(random, 30)).strip();
            final boolean ok = random.nextBoolean() || message.isEmpty();
            final AdminResponse response = AdminResponse.of(ok, message.replaceAll("[\\t\\n\\r]", " "), records);
            final String text = AdminProtocol.encodeResponse(response);
            assertTrue(text.endsWith("\n\n"), text);
            assertEquals(response, AdminProtocol.parseResponse(text), "seed=" + seed + " text=" + text);
        }
    }

    @Test
    void responseWireFormatIsTheDocumentedOne() throws AdminProtocolException
    {
        final AdminResponse response = AdminResponse.ok(List.of(
            AdminResponse.record("volume", "name", "vol 1", "sizeBytes", "4096", "mode", "wt"),
            AdminResponse.record("node", "id", "A", "role", "primary")));
        assertEquals(
            "ok\n" +
            "kind=volume\tname=vol\\s1\tsizeBytes=4096\tmode=wt\n" +
            "kind=node\tid=A\trole=primary\n" +
            "\n",
            AdminProtocol.encodeResponse(response));
        assertEquals("error volume vol1 exists\n\n",
            AdminProtocol.encodeResponse(AdminResponse.error("volume vol1 exists")));
        assertEquals("error two lines\n\n", AdminProtocol.errorResponseText("two\nlines"));
        assertEquals(List.of("volume", "node"), AdminProtocol.parseResponse(AdminProtocol.encodeResponse(response))
            .kinds());
        final AdminResponse okWithMessage = AdminProtocol.parseResponse("ok volume vol1 created\n\n");
        assertTrue(okWithMessage.isOk());
        assertEquals("volume vol1 created", okWithMessage.message());
    }

    @Test
    void requestLinesAreTheDocumentedOnes() throws AdminProtocolException
    {
        assertEquals("volume.create name=vol1 size=4294967296 mode=1wb", AdminProtocol.encodeRequestLine(
            AdminRequest.of(AdminCommand.VOLUME_CREATE, "name", "vol1", "size", "4294967296", "mode", "1wb")));
        assertEquals("status", AdminRequest.of(AdminCommand.STATUS).toString());
        final AdminRequest parsed = AdminProtocol.parseRequest("  volume.move   name=a\\sb  to=B\r");
        assertEquals(AdminCommand.VOLUME_MOVE, parsed.command());
        assertEquals("a b", parsed.arg("name"));
        assertEquals("B", parsed.arg("to"));
        for (final AdminCommand command : AdminCommand.values())
        {
            assertEquals(command, AdminCommand.fromWireName(command.wireName()));
        }
    }

    // ------------------------------------------------------------------------------------------------- malformed

    @Test
    void malformedRequestsGetClearErrors()
    {
        final String[][] cases = {
            {"", "empty request"},
            {"   ", "empty request"},
            {"volume.frob name=x", "unknown command 'volume.frob' (commands: status, volume.create"},
            {"STATUS", "unknown command 'STATUS'"},
            {"volume.show vol1", "volume.show: argument 'vol1' is not key=value"},
            {"volume.show =vol1", "volume.show: argument '=vol1' has an empty key"},
            {"volume.show Name=vol1", "a key starts with a lowercase letter"},
            {"volume.show na!me=vol1", "a key has only letters, digits"},
            {"volume.show name=a name=b", "volume.show: argument 'name' given twice"},
            {"volume.show", "volume.show needs 'name=' (takes: name=)"},
            {"volume.show name=", "volume.show: name must not be empty"},
            {"volume.show name=x size=4096", "volume.show does not take 'size' (takes: name=)"},
            {"status verbose=1", "status does not take 'verbose' (takes: no arguments)"},
            {"volume.create name=x", "volume.create needs 'size=' (takes: name= size= [mode=])"},
            {"volume.create name=x size=5", "volume.create: size must be a positive multiple of 4096 bytes, not 5"},
            {"volume.create name=x size=0", "must be a positive multiple of 4096 bytes, not 0"},
            {"volume.create name=x size=4G", "volume.create: size must be a byte count in decimal digits, not '4G'"},
            {"volume.create name=x size=-4096", "byte count in decimal digits"},
            {"volume.create name=x size=99999999999999999999", "byte count (1 to 19 decimal digits)"},
            {"volume.create name=x size=9999999999999999999", "too large"},
            {"volume.create name=x size=4096 mode=WB", "volume.create: mode must be one of wt, 1wb, wb, not 'WB'"},
            {"volume.move name=x to=C", "volume.move: to must be A or B, not 'C'"},
            {"volume.show name=a\\xb", "volume.show: value of 'name' has an unknown escape '\\x'"},
            {"volume.show name=ab\\", "volume.show: value of 'name' ends with a lone backslash"},
            {"volume.show name=a\tb", "raw control character 0x09 at column 19"},
            {"volume.show name=" + "n".repeat(AdminProtocol.NAME_LENGTH_MAX + 1), "longer than 255 characters"},
            {"stats " + "volume=v ".repeat(AdminProtocol.ARGS_MAX + 1), "more than 16 arguments"},
        };
        for (final String[] c : cases)
        {
            final AdminProtocolException ex =
                assertThrows(AdminProtocolException.class, () -> AdminProtocol.parseRequest(c[0]), c[0]);
            assertTrue(ex.getMessage().contains(c[1]), "'" + c[0] + "' -> '" + ex.getMessage() + "'");
            assertFalse(ex.getMessage().contains("\n"), ex.getMessage());
        }
    }

    @Test
    void requestsThatWouldNotParseCannotBeBuilt()
    {
        assertThrows(IllegalArgumentException.class, () -> AdminRequest.of(AdminCommand.VOLUME_SHOW));
        assertThrows(IllegalArgumentException.class,
            () -> AdminRequest.of(AdminCommand.VOLUME_CREATE, "name", "x", "size", "5"));
        assertThrows(IllegalArgumentException.class, () -> AdminRequest.of(AdminCommand.STATUS, "x"));
        assertThrows(IllegalArgumentException.class, () -> AdminRequest.of(AdminCommand.STATUS, "Bad", "1"));
    }

    @Test
    void malformedResponsesGetClearErrors()
    {
        final String[][] cases = {
            {"", "connection closed before a response"},
            {"okay\n\n", "response does not start with 'ok' or 'error MESSAGE': 'okay'"},
            {"error\n\n", "response does not start with 'ok' or 'error MESSAGE'"},
            {"error  \n\n", "response does not start with 'ok' or 'error MESSAGE'"},
            {"ok\nkind=volume\tname=x\n", "connection closed in the middle of a response (after 1 records)"},
            {"ok\nkind=volume", "connection closed in the middle of a line"},
            {"ok\nname=x\tkind=volume\n\n", "record 1 does not start with kind=: 'name=x\tkind=volume'".replace('\t', '?')},
            {"ok\nkind=v\nkind=v\tname\n\n", "record 2: field 'name' is not key=value"},
            {"ok\nkind=v\tname=a\tname=b\n\n", "record 1: key 'name' appears twice"},
            {"ok\nkind=v\tname=a\\q\n\n", "record 1: value of 'name' has an unknown escape '\\q'"},
            {"ok\nkind=v\t\n\n", "record 1: field '' is not key=value"},
            {"ok\nkind=\n\n", "record 1 has an empty kind"},
            {"ok\nkind=v\t9=x\n\n", "a key starts with a lowercase letter"},
            {"ok\n\nextra\n", "text after the end of the response"},
        };
        for (final String[] c : cases)
        {
            final AdminProtocolException ex =
                assertThrows(AdminProtocolException.class, () -> AdminProtocol.parseResponse(c[0]), c[0]);
            assertTrue(ex.getMessage().contains(c[1]), "'" + c[0] + "' -> '" + ex.getMessage() + "'");
        }
    }

    @Test
    void invalidUtf8IsReportedAndTheNextLineStillReads() throws IOException
    {
        final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        bytes.write(new byte[] {'s', 't', (byte)0xC3, '\n'});
        bytes.write("status\n".getBytes(StandardCharsets.UTF_8));
        final AdminLineReader reader = new AdminLineReader(new ByteArrayInputStream(bytes.toByteArray()));
        final AdminProtocolException ex = assertThrows(AdminProtocolException.class, reader::readLine);
        assertEquals("line is not valid UTF-8", ex.getMessage());
        assertEquals(AdminRequest.of(AdminCommand.STATUS), AdminProtocol.readRequest(reader));
        assertNull(AdminProtocol.readRequest(reader));
    }

    // ----------------------------------------------------------------------------------------------------- limits

    @Test
    void anOverlongLineIsSkippedAndReportedThenTheNextRequestReads() throws IOException
    {
        final String tooLong = "volume.show name=" + "x".repeat(AdminProtocol.LINE_LENGTH_MAX);
        final AdminLineReader reader = new AdminLineReader(new ByteArrayInputStream(
            (tooLong + "\nvolume.list\n").getBytes(StandardCharsets.UTF_8)));
        final AdminProtocolException ex =
            assertThrows(AdminProtocolException.class, () -> AdminProtocol.readRequest(reader));
        assertEquals("line longer than 65536 bytes", ex.getMessage());
        assertEquals(AdminRequest.of(AdminCommand.VOLUME_LIST), AdminProtocol.readRequest(reader));

        final String longest = "x".repeat(AdminProtocol.LINE_LENGTH_MAX);
        final AdminLineReader exact = new AdminLineReader(new ByteArrayInputStream(
            (longest + "\n").getBytes(StandardCharsets.UTF_8)));
        assertEquals(longest, exact.readLine());
    }

    @Test
    void responsesAreBoundedInRecordsFieldsLineAndBytes()
    {
        final StringBuilder manyRecords = new StringBuilder("ok\n");
        for (int i = 0; i <= AdminProtocol.RECORDS_MAX; i++)
        {
            manyRecords.append("kind=e\n");
        }
        assertMessage("more than 100000 records",
            () -> AdminProtocol.parseResponse(manyRecords.append('\n').toString()));

        final StringBuilder manyFields = new StringBuilder("ok\nkind=e");
        for (int i = 0; i < AdminProtocol.FIELDS_MAX; i++)
        {
            manyFields.append("\tf").append(i).append("=1");
        }
        assertMessage("record 1 has more than 256 fields",
            () -> AdminProtocol.parseResponse(manyFields.append("\n\n").toString()));

        final String longLine = "kind=e\tv=" + "y".repeat(AdminProtocol.LINE_LENGTH_MAX - 20) + "\n";
        final StringBuilder manyBytes = new StringBuilder("ok\n");
        for (int i = 0; i < AdminProtocol.RESPONSE_BYTES_MAX / longLine.length() + 1; i++)
        {
            manyBytes.append(longLine);
        }
        assertMessage("response longer than 16777216 bytes",
            () -> AdminProtocol.parseResponse(manyBytes.append('\n').toString()));

        final AdminResponse tooLongRecord = AdminResponse.ok(List.of(
            AdminResponse.record("e", "v", "z".repeat(AdminProtocol.LINE_LENGTH_MAX))));
        assertMessage("record of kind e is longer than 65536 bytes",
            () -> AdminProtocol.encodeResponse(tooLongRecord));
        final AdminResponse badKey = AdminResponse.ok(List.of(AdminResponse.record("e", "Bad Key", "1")));
        assertMessage("record key 'Bad Key'", () -> AdminProtocol.encodeResponse(badKey));
    }

    @Test
    void longMessagesAreCutToOneBoundedLine() throws AdminProtocolException
    {
        final String message = "m".repeat(AdminProtocol.MESSAGE_LENGTH_MAX + 10);
        final String text = AdminProtocol.encodeResponse(AdminResponse.error(message));
        final AdminResponse parsed = AdminProtocol.parseResponse(text);
        assertEquals(AdminProtocol.MESSAGE_LENGTH_MAX + 3, parsed.message().length());
        assertTrue(parsed.message().endsWith("..."));
    }

    // ---------------------------------------------------------------------------------------------------- helpers

    private interface Action
    {
        void run() throws Exception;
    }

    private static void assertMessage(final String expected, final Action action)
    {
        final Exception ex = assertThrows(Exception.class, action::run);
        assertTrue(ex.getMessage().contains(expected), "expected '" + expected + "' in '" + ex.getMessage() + "'");
    }

    private static List<AdminRequest> readRequests(final String text)
    {
        try
        {
            final AdminLineReader reader = new AdminLineReader(
                new ByteArrayInputStream(text.getBytes(StandardCharsets.UTF_8)));
            final List<AdminRequest> requests = new ArrayList<>();
            for (AdminRequest request = AdminProtocol.readRequest(reader); request != null;
                request = AdminProtocol.readRequest(reader))
            {
                requests.add(request);
            }
            return requests;
        }
        catch (final IOException ex)
        {
            throw new AssertionError(ex);
        }
    }

    /** Index of an '=' that is not part of an escape, or -1. */
    private static int unescapedEquals(final String escaped)
    {
        for (int i = 0; i < escaped.length(); i++)
        {
            if (escaped.charAt(i) == '\\')
            {
                i++;
            }
            else if (escaped.charAt(i) == '=')
            {
                return i;
            }
        }
        return -1;
    }

    private static String randomValue(final Random random, final int lengthMax)
    {
        final StringBuilder value = new StringBuilder();
        final int length = random.nextInt(lengthMax + 1);
        for (int i = 0; i < length; i++)
        {
            value.append(ALPHABET[random.nextInt(ALPHABET.length)]);
        }
        return value.toString();
    }

    private static String nonEmpty(final String value)
    {
        return value.isEmpty() ? "v" : value;
    }
}
