package io.afasim.controller;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class AfactlTest
{
    private static final AdminResponse VOLUMES = AdminResponse.ok(List.of(
        AdminResponse.record("volume", "name", "vol1", "sizeBytes", "4294967296", "mode", "1wb", "state", "online",
            "owner", "A"),
        AdminResponse.record("volume", "name", "scratch", "sizeBytes", "1572864", "mode", "wt", "state", "offline",
            "owner", "A")));

    private static final AdminResponse STATS = AdminResponse.ok(List.of(
        AdminResponse.record("layer", "layer", "host", "ops", "1200", "p50Us", "35", "p99Us", "410.5"),
        AdminResponse.record("layer", "layer", "cache", "ops", "1200", "p50Us", "4", "p99Us", "20"),
        AdminResponse.record("volume", "name", "vol1", "dedupRatio", "1.98", "dirtyBytes", "0")));

    /** What afactl printed and returned. */
    private record Result(int exitCode, String out, String err)
    {
        List<String> errLines()
        {
            return err.isEmpty() ? List.of() : List.of(err.split("\n", -1)).subList(0, err.split("\n", -1).length - 1);
        }
    }

    private static Result afactl(final Map<String, String> env, final String... args)
    {
        final StringWriter out = new StringWriter();
        final StringWriter err = new StringWriter();
        final int exitCode = Afactl.run(args, new PrintWriter(out), new PrintWriter(err), env);
        return new Result(exitCode, out.toString(), err.toString());
    }

    private static Result afactl(final FakeAdminServer server, final String... args)
    {
        final List<String> all = new ArrayList<>(List.of("--endpoint", server.endpoint()));
        all.addAll(List.of(args));
        return afactl(Map.of(), all.toArray(new String[0]));
    }

    // ------------------------------------------------------------------------------------------------- requests

    @Test
    void eachCommandSendsItsRequest() throws IOException
    {
        final String[][] cases = {
            {"status", "status"},
            {"volume create vol1 --size 4G", "volume.create name=vol1 size=4294967296"},
            {"volume create vol1 --size 512m --mode 1wb", "volume.create name=vol1 size=536870912 mode=1wb"},
            {"volume create vol1 --size 65536 --mode wb", "volume.create name=vol1 size=65536 mode=wb"},
            {"volume create vol1 --size 1T --mode wt", "volume.create name=vol1 size=1099511627776 mode=wt"},
            {"volume create vol1 --size 8KiB", "volume.create name=vol1 size=8192"},
            {"volume list", "volume.list"},
            {"volume show vol1", "volume.show name=vol1"},
            {"volume delete vol1", "volume.delete name=vol1"},
            {"volume set-mode vol1 wt", "volume.set-mode name=vol1 mode=wt"},
            {"volume offline vol1", "volume.offline name=vol1"},
            {"volume online vol1", "volume.online name=vol1"},
            {"volume move vol1 --to B", "volume.move name=vol1 to=B"},
            {"stats", "stats"},
            {"stats --volume vol1", "stats volume=vol1"},
            {"task list", "task.list"},
            {"task show 42", "task.show id=42"},
            {"trace", "trace"},
            {"trace --volume vol1 --task 7", "trace volume=vol1 task=7"},
            {"trace --task 7", "trace task=7"},
        };
        try (FakeAdminServer server = FakeAdminServer.answering(AdminResponse.ok(List.of())))
        {
            final List<String> expected = new ArrayList<>();
            for (final String[] c : cases)
            {
                final Result result = afactl(server, c[0].split(" "));
                assertEquals(0, result.exitCode(), c[0] + ": " + result.err());
                assertEquals("", result.err(), c[0]);
                expected.add(c[1]);
                assertEquals(expected, server.requestLines(), c[0]);
            }
            assertEquals(List.of(), server.failures());
        }
    }

    @Test
    void namesWithSpacesAndOptionsAfterTheCommandWork() throws IOException
    {
        try (FakeAdminServer server = FakeAdminServer.answering(AdminResponse.ok(List.of())))
        {
            final Result result = afactl(Map.of(), "volume", "show", "my vol=1", "--endpoint", server.endpoint());
            assertEquals(0, result.exitCode(), result.err());
            assertEquals(List.of("volume.show name=my\\svol\\=1"), server.requestLines());
        }
    }

    // ---------------------------------------------------------------------------------------------------- output

    @Test
    void tablesAreAlignedWithHumanSizes() throws IOException
    {
        try (FakeAdminServer server = FakeAdminServer.answering(VOLUMES))
        {
            final Result result = afactl(server, "volume", "list");
            assertEquals(0, result.exitCode(), result.err());
            assertEquals(
                "name     sizeBytes  mode  state    owner\n" +
                "vol1         4 GiB  1wb   online   A\n" +
                "scratch    1.5 MiB  wt    offline  A\n",
                result.out());
        }
    }

    @Test
    void severalKindsPrintSeveralTitledTablesWithNumbersRightAligned() throws IOException
    {
        try (FakeAdminServer server = FakeAdminServer.answering(STATS))
        {
            final Result result = afactl(server, "stats");
            assertEquals(0, result.exitCode(), result.err());
            assertEquals(
                "[layer]\n" +
                "layer   ops  p50Us  p99Us\n" +
                "host   1200     35  410.5\n" +
                "cache  1200      4     20\n" +
                "\n" +
                "[volume]\n" +
                "name  dedupRatio  dirtyBytes\n" +
                "vol1        1.98         0 B\n",
                result.out());
        }
    }

    @Test
    void anOkWithoutRecordsPrintsItsMessageOrOk() throws IOException
    {
        try (FakeAdminServer server = FakeAdminServer.answering(AdminResponse.ok("volume vol1 deleted", List.of())))
        {
            assertEquals("volume vol1 deleted\n", afactl(server, "volume", "delete", "vol1").out());
        }
        try (FakeAdminServer server = FakeAdminServer.answering(AdminResponse.ok(List.of())))
        {
            assertEquals("ok\n", afactl(server, "volume", "online", "vol1").out());
        }
    }

    @Test
    void jsonIsOneDocumentWithOneArrayPerKind() throws IOException
    {
        try (FakeAdminServer server = FakeAdminServer.answering(STATS))
        {
            final Result result = afactl(server, "--json", "stats");
            assertEquals(0, result.exitCode(), result.err());
            assertEquals("{\"ok\":true," +
                "\"layer\":[{\"layer\":\"host\",\"ops\":1200,\"p50Us\":35,\"p99Us\":410.5}," +
                "{\"layer\":\"cache\",\"ops\":1200,\"p50Us\":4,\"p99Us\":20}]," +
                "\"volume\":[{\"name\":\"vol1\",\"dedupRatio\":1.98,\"dirtyBytes\":0}]}\n",
                result.out());
        }
        final AdminResponse tricky = AdminResponse.ok("made \"it\"", List.of(
            AdminResponse.record("message", "text", "a\"b\\c\nd\u0001", "id", "007", "neg", "-3", "exp", "1e3",
                "nan", "NaN", "empty", "")));
        try (FakeAdminServer server = FakeAdminServer.answering(tricky))
        {
            final Result result = afactl(server, "trace", "--json");
            assertEquals("{\"ok\":true,\"message\":\"made \\\"it\\\"\",\"kind.message\":[{" +
                "\"text\":\"a\\\"b\\\\c\\nd\\u0001\",\"id\":\"007\",\"neg\":-3,\"exp\":1e3,\"nan\":\"NaN\"," +
                "\"empty\":\"\"}]}\n", result.out());
        }
    }

    // ---------------------------------------------------------------------------------------------------- errors

    @Test
    void aRefusedOperationExitsOneWithOneLine() throws IOException
    {
        try (FakeAdminServer server = FakeAdminServer.answering(
            AdminResponse.error("volume vol1 already exists (4 GiB, online)")))
        {
            final Result result = afactl(server, "volume", "create", "vol1", "--size", "4G");
            assertEquals(1, result.exitCode());
            assertEquals("", result.out());
            assertEquals(List.of("afactl: volume vol1: refused: volume vol1 already exists (4 GiB, online)"),
                result.errLines());

            final Result json = afactl(server, "--json", "status");
            assertEquals(1, json.exitCode());
            assertEquals("{\"ok\":false,\"message\":\"volume vol1 already exists (4 GiB, online)\"}\n", json.out());
            assertEquals(List.of("afactl: status: refused: volume vol1 already exists (4 GiB, online)"),
                json.errLines());
        }
    }

    @Test
    void wrongArgumentsExitTwoWithOneLineAndSendNothing() throws IOException
    {
        final String[][] cases = {
            {"volume create x --size 5", "afactl: volume create: Invalid value for option '--size': '5' is not a " +
                "positive multiple of 4096 bytes (see afactl volume create --help)"},
            {"volume create x --size 4Q", "afactl: volume create: Invalid value for option '--size': '4Q' is not " +
                "a size (a number with an optional K, M, G, T or P suffix, powers of 1024, e.g. 4G) " +
                "(see afactl volume create --help)"},
            {"volume create x --size 0", "'0' is not a positive multiple of 4096 bytes"},
            {"volume create x --size 99999999999P", "'99999999999P' is too large"},
            {"volume create x", "afactl: volume create: Missing required option: '--size=SIZE' " +
                "(see afactl volume create --help)"},
            {"volume create --size 4G", "afactl: volume create: Missing required parameter: 'NAME'"},
            {"volume create x --size 4G --mode fast", "'fast' is not a write mode (wt, 1wb, wb)"},
            {"volume set-mode x", "Missing required parameter: 'wt|1wb|wb'"},
            {"volume set-mode x 2wb", "'2wb' is not a write mode (wt, 1wb, wb)"},
            {"volume move x --to C", "'C' is not a controller (A, B)"},
            {"volume show", "afactl: volume show: Missing required parameter: 'NAME'"},
            {"volume show a b", "afactl: volume show: Unmatched argument at index 5: 'b'"},
            {"task show", "afactl: task show: Missing required parameter: 'ID'"},
            {"frobnicate", "afactl: Unmatched argument at index 2: 'frobnicate' (see afactl --help)"},
            {"volume frob", "afactl: volume: Unmatched argument at index 3: 'frob'"},
            {"volume", "afactl: volume: missing subcommand (create, list, show, delete, set-mode, offline, online, " +
                "move) (see afactl volume --help)"},
            {"task", "afactl: task: missing subcommand (list, show)"},
            {"stats --volume", "afactl: stats: Missing required parameter for option '--volume' (NAME)"},
            {"status --bogus", "afactl: status: Unknown option: '--bogus'"},
        };
        try (FakeAdminServer server = FakeAdminServer.answering(AdminResponse.ok(List.of())))
        {
            for (final String[] c : cases)
            {
                final Result result = afactl(server, c[0].split(" "));
                assertEquals(2, result.exitCode(), c[0] + ": " + result.err());
                assertEquals("", result.out(), c[0]);
                assertEquals(1, result.errLines().size(), c[0] + ": " + result.err());
                assertTrue(result.err().contains(c[1]), c[0] + ": " + result.err());
            }
            assertEquals(List.of(), server.requestLines());
        }
        final Result none = afactl(Map.of());
        assertEquals(2, none.exitCode());
        assertEquals(List.of("afactl: missing command (status, volume, stats, task, trace) (see afactl --help)"),
            none.errLines());
        final Result badEndpoint = afactl(Map.of(), "--endpoint", "nowhere", "status");
        assertEquals(2, badEndpoint.exitCode());
        assertEquals(List.of("afactl: --endpoint: 'nowhere' is not HOST:PORT"), badEndpoint.errLines());
    }

    @Test
    void anUnreachableEndpointExitsOneWithOneLine() throws IOException
    {
        final int port = AdminClientTest.closedPort();
        final Result result = afactl(Map.of(), "--endpoint", "127.0.0.1:" + port, "volume", "list");
        assertEquals(1, result.exitCode());
        assertEquals("", result.out());
        assertEquals(1, result.errLines().size(), result.err());
        assertTrue(result.err().startsWith("afactl: volume list: cannot connect to admin endpoint 127.0.0.1:" +
            port + " (--endpoint): "), result.err());
    }

    @Test
    void aMalformedResponseExitsOneWithOneLine() throws IOException
    {
        try (FakeAdminServer server = new FakeAdminServer(request -> "ok\nname=x\n\n"))
        {
            final Result result = afactl(server, "volume", "show", "x");
            assertEquals(1, result.exitCode());
            assertEquals(List.of("afactl: volume x: bad response from " + server.endpoint() +
                ": record 1 does not start with kind=: 'name=x'"), result.errLines());
        }
    }

    @Test
    void helpPrintsUsageAndExitsZero()
    {
        final Result top = afactl(Map.of(), "--help");
        assertEquals(0, top.exitCode());
        assertTrue(top.out().startsWith("Usage: afactl"), top.out());
        assertTrue(top.out().contains("AFASIM_ADMIN"), top.out());
        assertEquals("", top.err());
        final Result create = afactl(Map.of(), "volume", "create", "--help");
        assertEquals(0, create.exitCode());
        assertTrue(create.out().contains("--size=SIZE"), create.out());
    }

    // -------------------------------------------------------------------------------------------------- endpoint

    @Test
    void theEndpointComesFromTheEnvironmentThenTheRunFile(@TempDir final Path home) throws IOException
    {
        try (FakeAdminServer fromEnv = FakeAdminServer.answering(AdminResponse.ok(List.of()));
            FakeAdminServer fromFile = FakeAdminServer.answering(AdminResponse.ok(List.of())))
        {
            Files.createDirectories(home.resolve("run"));
            Files.writeString(home.resolve("run/admin"), fromFile.endpoint() + "\n");

            assertEquals(0, afactl(Map.of("AFASIM_ADMIN", fromEnv.endpoint(), "AFASIM_HOME", home.toString()),
                "status").exitCode());
            assertEquals(List.of("status"), fromEnv.requestLines());
            assertEquals(List.of(), fromFile.requestLines());

            assertEquals(0, afactl(Map.of("AFASIM_HOME", home.toString()), "volume", "list").exitCode());
            assertEquals(List.of("volume.list"), fromFile.requestLines());
        }
        final AdminEndpoint fallback = AdminEndpoint.resolve(null, Map.of("AFASIM_HOME", home.resolve("x").toString()));
        assertEquals("127.0.0.1:7391", fallback.toString());
        assertEquals("default", fallback.source());
    }

    @Test
    void sizesParseAndFormat()
    {
        assertEquals(4096L, AfactlSizes.parseBytes("4096"));
        assertEquals(4096L, AfactlSizes.parseBytes("4k"));
        assertEquals(4L << 30, AfactlSizes.parseBytes("4G"));
        assertEquals(4L << 30, AfactlSizes.parseBytes("4GB"));
        assertEquals(4L << 30, AfactlSizes.parseBytes("4GiB"));
        assertEquals(2L << 40, AfactlSizes.parseBytes("2T"));
        for (final String bad : new String[] {"", "G", "4iB", "-4G", "4.5G", "4 G", "5", "4Q", "0", "8191"})
        {
            try
            {
                AfactlSizes.parseBytes(bad);
                throw new AssertionError("accepted '" + bad + "'");
            }
            catch (final IllegalArgumentException expected)
            {
                assertTrue(expected.getMessage().startsWith("'" + bad + "'"), expected.getMessage());
            }
        }
        assertEquals("0 B", AfactlSizes.format(0));
        assertEquals("1023 B", AfactlSizes.format(1023));
        assertEquals("3.9 KiB", AfactlSizes.format(4095));
        assertEquals("4 KiB", AfactlSizes.format(4096));
        assertEquals("1.5 MiB", AfactlSizes.format(1572864));
        assertEquals("4 GiB", AfactlSizes.format(4L << 30));
        assertEquals("8 EiB", AfactlSizes.format(Long.MAX_VALUE)); // 2^63 - 1 is 2^63 as a double
    }
}
