package io.afasim.controller;

import java.io.File;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * {@code fio-profiles/run.sh} (the operator's benchmark entry point, next to afactl) against nbdkit's in-RAM
 * {@code memory} plugin: the summary table has a row per profile and direction with numeric results, and failures
 * exit non-zero. Skipped when fio or nbdkit is not installed. Logs stay in {@code target/fio-profiles-test/}.
 */
class AfactlFioProfilesTest
{
    private static final long NBDKIT_START_TIMEOUT_MS = 10_000;
    private static final long RUN_TIMEOUT_MS = 180_000;
    private static final int PORT_ATTEMPTS_MAX = 3;
    private static final Pattern ROW = Pattern.compile(
        "^(\\S+)\\s+(read|write|verify)\\s+(\\d+)\\s+(\\d+\\.\\d)\\s+(\\d+)\\s+(\\d+)\\s+(\\d+)\\s+(\\S.*)$",
        Pattern.MULTILINE);

    private static Path root;
    private static Path logDir;
    private Process nbdkit;

    private record Run(int exitCode, String out, String err)
    {
    }

    @BeforeAll
    static void findTools() throws IOException
    {
        assumeTrue(onPath("fio"), "fio is not installed (apt-get install fio): skipping the run.sh test");
        assumeTrue(onPath("nbdkit"), "nbdkit is not installed (apt-get install nbdkit): skipping the run.sh test");
        assumeTrue(onPath("python3"), "python3 is not installed: skipping the run.sh test");
        root = projectRoot("fio-profiles/run.sh");
        logDir = root.resolve("controller/target/fio-profiles-test");
        Files.createDirectories(logDir);
    }

    @AfterEach
    void stopNbdkit() throws InterruptedException
    {
        if (nbdkit != null)
        {
            nbdkit.destroy();
            if (!nbdkit.waitFor(5, TimeUnit.SECONDS))
            {
                nbdkit.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
            }
        }
    }

    @Test
    void runsProfilesAgainstNbdkitMemoryAndPrintsOneTable() throws Exception
    {
        final int port = startNbdkitMemory();
        final Run run = runSh("run", "nbd://127.0.0.1:" + port, "randwrite-4k-qd1", "verify-crc32c");
        assertEquals(0, run.exitCode(), "run.sh failed; stderr:\n" + run.err() + "\nstdout:\n" + run.out());

        final String[] lines = run.out().split("\n");
        assertTrue(lines[0].matches(
            "profile\\s+op\\s+IOPS\\s+MiB/s\\s+clat_p50_us\\s+clat_p99_us\\s+clat_p99\\.9_us\\s+errors"), lines[0]);
        final List<String> rows = new ArrayList<>();
        final Matcher row = ROW.matcher(run.out());
        while (row.find())
        {
            rows.add(row.group(1) + " " + row.group(2));
            assertTrue(Long.parseLong(row.group(3)) > 0, "IOPS of " + row.group());
            assertEquals("0", row.group(8).trim(), "errors of " + row.group());
        }
        assertEquals(List.of("randwrite-4k-qd1 write", "verify-crc32c write", "verify-crc32c verify"), rows,
            run.out());
        assertEquals(4, lines.length, "one header and three rows:\n" + run.out());
    }

    @Test
    void aFailedRunExitsNonZeroAndStillPrintsItsRow() throws Exception
    {
        final int port = AdminClientTest.closedPort();
        final Run run = runSh("unreachable", "nbd://127.0.0.1:" + port, "randwrite-4k-qd1");
        assertEquals(1, run.exitCode(), run.err());
        assertTrue(run.out().contains("randwrite-4k-qd1") && run.out().contains("fio exit"), run.out());
        assertTrue(run.err().contains("run.sh: randwrite-4k-qd1: fio exited with status"), run.err());
    }

    @Test
    void wrongUsageExitsTwoWithOneLine() throws Exception
    {
        final Run unknown = runSh("unknown", "nbd://127.0.0.1:1", "no-such-profile");
        assertEquals(2, unknown.exitCode());
        assertTrue(unknown.err().startsWith("run.sh: unknown profile 'no-such-profile' (profiles: dedup-50 "),
            unknown.err());
        final Run notNbd = runSh("not-nbd", "http://127.0.0.1:1");
        assertEquals(2, notNbd.exitCode());
        assertEquals("run.sh: 'http://127.0.0.1:1' is not an NBD URI (nbd://HOST:PORT/EXPORT)\n", notNbd.err());
    }

    /** Starts nbdkit memory on a free port and waits (bounded) until it accepts; returns the port. */
    private int startNbdkitMemory() throws Exception
    {
        for (int attempt = 1; attempt <= PORT_ATTEMPTS_MAX; attempt++)
        {
            final int port = AdminClientTest.closedPort();
            final File log = logDir.resolve("nbdkit-" + port + ".log").toFile();
            nbdkit = new ProcessBuilder("nbdkit", "--exit-with-parent", "--foreground", "-p", Integer.toString(port),
                "-i", "127.0.0.1", "memory", "256M")
                .redirectErrorStream(true)
                .redirectOutput(log)
                .start();
            final long deadlineNs = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(NBDKIT_START_TIMEOUT_MS);
            while (deadlineNs - System.nanoTime() > 0)
            {
                if (accepts(port))
                {
                    return port;
                }
                if (nbdkit.waitFor(20, TimeUnit.MILLISECONDS))
                {
                    break; // exited: most likely the port was taken between closedPort() and its bind
                }
            }
            stopNbdkit();
            nbdkit = null;
            if (attempt == PORT_ATTEMPTS_MAX)
            {
                fail("nbdkit did not accept on port " + port + " within " + NBDKIT_START_TIMEOUT_MS + " ms; log:\n" +
                    Files.readString(log.toPath(), StandardCharsets.UTF_8));
            }
        }
        throw new AssertionError("unreachable");
    }

    private static boolean accepts(final int port)
    {
        try (Socket socket = new Socket())
        {
            socket.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 200);
            return true;
        }
        catch (final IOException ex)
        {
            return false;
        }
    }

    private static Run runSh(final String name, final String... args) throws Exception
    {
        final List<String> command = new ArrayList<>();
        command.add(root.resolve("fio-profiles/run.sh").toString());
        command.addAll(List.of(args));
        final Path out = logDir.resolve(name + ".out");
        final Path err = logDir.resolve(name + ".err");
        final ProcessBuilder builder = new ProcessBuilder(command)
            .directory(logDir.toFile())
            .redirectOutput(out.toFile())
            .redirectError(err.toFile());
        final Map<String, String> env = builder.environment();
        env.put("FIO_SIZE", "16m");
        env.put("FIO_RUNTIME", "2");
        env.put("FIO_OUTPUT_DIR", logDir.resolve(name).toString());
        final Process process = builder.start();
        if (!process.waitFor(RUN_TIMEOUT_MS, TimeUnit.MILLISECONDS))
        {
            process.descendants().forEach(ProcessHandle::destroyForcibly);
            process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
            fail("run.sh " + String.join(" ", args) + " did not finish within " + RUN_TIMEOUT_MS + " ms; stderr:\n" +
                Files.readString(err));
        }
        return new Run(process.exitValue(), Files.readString(out), Files.readString(err));
    }

    /** The checkout's root: the nearest directory above the working directory that holds {@code script}. */
    static Path projectRoot(final String script)
    {
        Path dir = Path.of(System.getProperty("user.dir")).toAbsolutePath();
        while (dir != null && !Files.isRegularFile(dir.resolve(script)))
        {
            dir = dir.getParent();
        }
        assertTrue(dir != null, script + " not found above " + System.getProperty("user.dir"));
        return dir;
    }

    static boolean onPath(final String tool)
    {
        final String path = System.getenv().getOrDefault("PATH", "");
        for (final String dir : path.split(File.pathSeparator))
        {
            if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, tool)))
            {
                return true;
            }
        }
        return false;
    }
}
