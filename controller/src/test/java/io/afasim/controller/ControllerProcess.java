package io.afasim.controller;

import java.io.File;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A real controller JVM for system tests: started with the settings of a {@link ControllerContext}
 * rendered as {@code -D} arguments, waited for through its run files (bounded polling), stopped with
 * SIGTERM or killed with SIGKILL. Its output goes to a log file beside the array, which
 * {@link #logTail()} returns for failure messages (and which stays on disk).
 */
final class ControllerProcess implements AutoCloseable
{
    static final long START_TIMEOUT_MS = 60_000;
    static final long STOP_TIMEOUT_MS = 30_000;

    private final ControllerContext ctx;
    private final Path log;
    private Process process;
    private int restarts;

    ControllerProcess(final ControllerContext ctx)
    {
        this.ctx = ctx;
        this.log = ctx.arrayDir().resolve("controller-" + ctx.node() + ".log");
    }

    /** A small array for tests: 4 drives of 256 MiB, 16 MiB journal, ephemeral ports. */
    static ControllerContext testContext(final Path arrayDir)
    {
        final Path shm = Path.of("/dev/shm");
        final Path nvmeParent = Files.isDirectory(shm) ? shm : arrayDir;
        return new ControllerContext()
            .arrayDir(arrayDir)
            .controllers(1)
            .nvmeDir(nvmeParent.resolve("afasim-test-" + ProcessHandle.current().pid() + "-" + System.nanoTime()))
            .nvmeSizeBytes(32L << 20)
            .nbdPort(0)
            .adminPort(0)
            .driveCount(4)
            .driveSizeBytes(256L << 20)
            .segmentSizeBytes(1 << 20)
            .journalSizeBytes(16L << 20);
    }

    ControllerProcess start() throws IOException, InterruptedException
    {
        Files.createDirectories(ctx.arrayDir());
        final Path run = ctx.arrayDir().resolve("run");
        Files.createDirectories(run);
        Files.deleteIfExists(run.resolve("node-" + ctx.node() + ".pid"));
        final List<String> command = new ArrayList<>();
        command.add(ProcessHandle.current().info().command().orElse("java"));
        command.add("--add-opens");
        command.add("java.base/jdk.internal.misc=ALL-UNNAMED");
        command.add("--add-opens");
        command.add("java.base/java.util.zip=ALL-UNNAMED");
        command.add("-Xmx512m");
        command.add("-XX:+UseSerialGC");
        command.addAll(ctx.toSystemPropertyArguments());
        command.add("-cp");
        command.add(System.getProperty("java.class.path"));
        command.add(ControllerMain.class.getName());
        process = new ProcessBuilder(command)
            .redirectErrorStream(true)
            .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
            .start();
        final long deadlineMs = System.currentTimeMillis() + START_TIMEOUT_MS;
        while (!Files.exists(run.resolve("node-" + ctx.node() + ".pid")))
        {
            if (!process.isAlive())
            {
                throw new IllegalStateException("controller exited with " + process.exitValue() + ":\n" + logTail());
            }
            if (System.currentTimeMillis() > deadlineMs)
            {
                throw new IllegalStateException("controller not up within " + START_TIMEOUT_MS + " ms:\n" + logTail());
            }
            process.waitFor(20, TimeUnit.MILLISECONDS);
        }
        restarts++;
        return this;
    }

    String nbdUri(final String volume) throws IOException
    {
        return Files.readString(runFile("nbd")).trim() + "/" + volume;
    }

    int nbdPort() throws IOException
    {
        final String uri = Files.readString(runFile("nbd")).trim();
        return Integer.parseInt(uri.substring(uri.lastIndexOf(':') + 1));
    }

    String adminEndpoint() throws IOException
    {
        return Files.readString(runFile("admin")).trim();
    }

    private Path runFile(final String suffix)
    {
        return ctx.arrayDir().resolve("run").resolve("node-" + ctx.node() + "." + suffix);
    }

    /** Runs afactl in-process against this controller; returns exit code, stdout and stderr. */
    AfactlResult afactl(final String... args) throws IOException
    {
        final StringWriter out = new StringWriter();
        final StringWriter err = new StringWriter();
        final String[] all = new String[args.length + 2];
        all[0] = "--endpoint";
        all[1] = adminEndpoint();
        System.arraycopy(args, 0, all, 2, args.length);
        final int code = Afactl.run(all, new PrintWriter(out, true), new PrintWriter(err, true));
        return new AfactlResult(code, out.toString(), err.toString());
    }

    record AfactlResult(int exitCode, String out, String err)
    {
    }

    /** SIGKILL: a crash. */
    void kill() throws InterruptedException
    {
        process.destroyForcibly();
        if (!process.waitFor(STOP_TIMEOUT_MS, TimeUnit.MILLISECONDS))
        {
            throw new IllegalStateException("controller survived SIGKILL for " + STOP_TIMEOUT_MS + " ms");
        }
    }

    boolean isAlive()
    {
        return process != null && process.isAlive();
    }

    String logTail()
    {
        try
        {
            final List<String> lines = Files.readAllLines(log);
            return String.join("\n", lines.subList(Math.max(0, lines.size() - 60), lines.size())) +
                "\n(full log: " + log + ")";
        }
        catch (final IOException ex)
        {
            return "(no log: " + ex + ")";
        }
    }

    Path log()
    {
        return log;
    }

    @Override
    public void close() throws InterruptedException
    {
        if (process != null && process.isAlive())
        {
            process.destroy();
            if (!process.waitFor(STOP_TIMEOUT_MS, TimeUnit.MILLISECONDS))
            {
                process.destroyForcibly().waitFor(STOP_TIMEOUT_MS, TimeUnit.MILLISECONDS);
            }
        }
        deleteTree(ctx.nvmeDir()); // NVMe memory lives on /dev/shm, outside the test's temporary directory
    }

    private static void deleteTree(final Path root)
    {
        if (!Files.exists(root))
        {
            return;
        }
        try (java.util.stream.Stream<Path> paths = Files.walk(root))
        {
            paths.sorted(java.util.Comparator.reverseOrder()).forEach(path -> path.toFile().delete());
        }
        catch (final IOException ex)
        {
            System.err.println("[afasim] could not delete " + root + ": " + ex);
        }
    }

    /** Runs an external command with a deadline; returns exit code and output (stdout+stderr). */
    static ExternalResult run(final long timeoutMs, final File workDir, final String... command)
        throws IOException, InterruptedException
    {
        final Path output = Files.createTempFile("afasim-cmd-", ".log");
        try
        {
            final Process external = new ProcessBuilder(command)
                .directory(workDir)
                .redirectErrorStream(true)
                .redirectOutput(output.toFile())
                .start();
            if (!external.waitFor(timeoutMs, TimeUnit.MILLISECONDS))
            {
                external.destroyForcibly().waitFor();
                return new ExternalResult(-1, "timed out after " + timeoutMs + " ms: " + String.join(" ", command) +
                    "\n" + Files.readString(output));
            }
            return new ExternalResult(external.exitValue(), Files.readString(output));
        }
        finally
        {
            Files.deleteIfExists(output);
        }
    }

    record ExternalResult(int exitCode, String output)
    {
    }

    static boolean installed(final String binary)
    {
        for (final String dir : System.getenv().getOrDefault("PATH", "/usr/bin").split(File.pathSeparator))
        {
            if (Files.isExecutable(Path.of(dir, binary)))
            {
                return true;
            }
        }
        return false;
    }
}
