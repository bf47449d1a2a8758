package io.afasim.harness;

import io.afasim.controller.AdminClient;
import io.afasim.controller.AdminCommand;
import io.afasim.controller.AdminEndpoint;
import io.afasim.controller.AdminRequest;
import io.afasim.controller.AdminResponse;
import io.afasim.controller.Afactl;
import io.afasim.controller.ControllerContext;
import io.afasim.controller.ControllerMain;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * One controller as a real JVM ({@link ControllerMain}), started with its {@link ControllerContext} rendered as
 * {@code -D} arguments, the test's class path and the JVM flags Aeron/Agrona need. The context stays mutable: a
 * change (a test seam, say) applies from the next {@link #start()}.
 * <p>
 * Its output (stdout and stderr, every start appended after a banner line) goes to {@link #log()} in the array
 * directory; {@link #logTail()} is what failure messages print. Waiting is bounded polling of the process, the run
 * files the controller writes ({@code run/node-X.pid|.nbd|.admin}) and an admin {@code status}. Not thread-safe:
 * one scenario thread drives it.
 */
public final class ControllerNode implements AutoCloseable
{
    public static final long START_TIMEOUT_MS = 60_000;
    public static final long STOP_TIMEOUT_MS = 30_000;
    public static final int LOG_TAIL_LINES = 60;
    /** The root pom's {@code afasim.jvm.flags} (Aeron/Agrona on Java 17) and a small heap: two run on 2 cores. */
    static final List<String> JVM_FLAGS = List.of(
        "--add-opens", "java.base/jdk.internal.misc=ALL-UNNAMED",
        "--add-opens", "java.base/java.util.zip=ALL-UNNAMED",
        "--add-opens", "java.base/java.nio=ALL-UNNAMED",
        "--add-opens", "java.base/sun.nio.ch=ALL-UNNAMED",
        "-Xmx512m",
        "-XX:+UseSerialGC");
    /** Starts each launch's part of the log. */
    static final String BANNER = "==== [harness] ";
    private static final int ADMIN_CONNECT_TIMEOUT_MS = 1_000;
    private static final int ADMIN_READ_TIMEOUT_MS = 10_000;

    private final ControllerContext ctx;
    private final Path log;
    private Process process;
    private int startCount;
    private boolean frozen;

    /** A node of the given context; its log goes to {@code log} (appended). Nothing starts yet. */
    public ControllerNode(final ControllerContext ctx, final Path log)
    {
        this.ctx = ctx;
        this.log = log;
    }

    /** The node name the controller runs as ({@code afasim.node}). */
    public String name()
    {
        return ctx.node();
    }

    /** The settings of the next start (mutable). */
    public ControllerContext context()
    {
        return ctx;
    }

    public Path log()
    {
        return log;
    }

    /** How many times this node was launched. */
    public int startCount()
    {
        return startCount;
    }

    /**
     * Launches the JVM and returns at once (see {@link #awaitUp()}). Removes this node's run files first, so that
     * a stale file of an earlier run never passes for this one.
     */
    public ControllerNode start()
    {
        if (isAlive())
        {
            throw new IllegalStateException("controller " + name() + " is already running (pid " + process.pid() + ")");
        }
        try
        {
            Files.createDirectories(runDir());
            for (final String suffix : new String[] {"pid", "nbd", "admin"})
            {
                Files.deleteIfExists(runFile(suffix));
            }
            final List<String> command = new ArrayList<>();
            command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
            command.addAll(JVM_FLAGS);
            command.addAll(ctx.toSystemPropertyArguments());
            command.add("-cp");
            command.add(System.getProperty("java.class.path"));
            command.add(ControllerMain.class.getName());
            startCount++;
            Files.writeString(log, BANNER + Instant.now() + " start #" + startCount + " of controller " +
                name() + ": " + String.join(" ", ctx.toSystemPropertyArguments()) + "\n", StandardCharsets.UTF_8,
                StandardOpenOption.CREATE, StandardOpenOption.APPEND);
            process = new ProcessBuilder(command)
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
                .start();
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("cannot launch controller " + name(), ex);
        }
        return this;
    }

    /**
     * Waits (bounded) until this launch is serving: its pid file names this process, and an admin {@code status}
     * on the endpoint of its run file answers for this node and pid. Fails with the log tail if the process exits
     * first or the deadline passes.
     */
    public ControllerNode awaitUp()
    {
        requireLaunched();
        final long deadlineNs = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(START_TIMEOUT_MS);
        String lastProblem = "no run files yet";
        while (true)
        {
            if (!process.isAlive())
            {
                throw new IllegalStateException("controller " + name() + " exited with code " + process.exitValue() +
                    " before it was up:\n" + logTail());
            }
            final String problem = upProblem();
            if (problem == null)
            {
                return this;
            }
            lastProblem = problem;
            if (deadlineNs - System.nanoTime() < 0)
            {
                throw new IllegalStateException("controller " + name() + " not up within " + START_TIMEOUT_MS +
                    " ms (" + lastProblem + "):\n" + logTail());
            }
            waitForExit(Poll.INTERVAL_MS);
        }
    }

    /** Null when this launch is up, else what is missing. */
    private String upProblem()
    {
        try
        {
            if (!Files.exists(runFile("pid")))
            {
                return "no " + runFile("pid");
            }
            final String pid = Files.readString(runFile("pid")).trim();
            if (!pid.equals(Long.toString(process.pid())))
            {
                return runFile("pid") + " names pid " + pid + ", not " + process.pid();
            }
            final Map<String, String> node = status();
            if (!name().equals(node.get("node")) || !pid.equals(node.get("pid")))
            {
                return "admin status answers for " + node;
            }
            return null;
        }
        catch (final IOException | RuntimeException ex)
        {
            return String.valueOf(ex);
        }
    }

    /** {@link #start()} then {@link #awaitUp()}. */
    public ControllerNode startAndAwaitUp()
    {
        return start().awaitUp();
    }

    /** A crash: SIGKILL, then waits (bounded) for the process to be gone. */
    public void kill()
    {
        requireLaunched();
        process.destroyForcibly(); // a frozen process dies of SIGKILL too
        frozen = false;
        if (!waitForExit(STOP_TIMEOUT_MS))
        {
            throw new IllegalStateException(
                "controller " + name() + " survived SIGKILL for " + STOP_TIMEOUT_MS + " ms");
        }
    }

    /** A clean stop: SIGTERM, then waits (bounded) for the process to exit. */
    public void stop()
    {
        requireLaunched();
        if (frozen)
        {
            thaw(); // a stopped process does not act on SIGTERM
        }
        process.destroy();
        if (!waitForExit(STOP_TIMEOUT_MS))
        {
            throw new IllegalStateException("controller " + name() + " did not exit within " + STOP_TIMEOUT_MS +
                " ms of SIGTERM:\n" + logTail());
        }
    }

    /**
     * A hang: SIGSTOP, then waits (bounded) until the kernel reports the process stopped ({@code /proc/PID/stat}
     * state T). Every thread stops at once, as in a controller wedged in the kernel or a long GC pause: its sockets
     * stay open and its peer, its hosts and its admin clients get no answer until {@link #thaw()}. Do not ask a frozen
     * node anything over admin or NBD from the scenario thread: the call would wait for its read timeout.
     */
    public void freeze()
    {
        requireLaunched();
        if (frozen)
        {
            throw new IllegalStateException("controller " + name() + " is already frozen");
        }
        signal("STOP");
        frozen = true;
        awaitProcessState(true);
    }

    /** The end of a hang: SIGCONT, then waits (bounded) until the process runs again (state no longer T). */
    public void thaw()
    {
        requireLaunched();
        if (!frozen)
        {
            throw new IllegalStateException("controller " + name() + " is not frozen");
        }
        signal("CONT");
        frozen = false;
        awaitProcessState(false);
    }

    /** True between {@link #freeze()} and {@link #thaw()}. */
    public boolean isFrozen()
    {
        return frozen;
    }

    /**
     * The stacks of every thread ({@code jstack PID}, bounded by {@link #STOP_TIMEOUT_MS}) for a failure's evidence,
     * or why there are none; a frozen process cannot answer it.
     */
    public String threadDump()
    {
        if (!isAlive())
        {
            return "(controller " + name() + " is not running: no thread dump)";
        }
        if (frozen)
        {
            return "(controller " + name() + " is frozen: no thread dump)";
        }
        Path dump = null;
        try
        {
            dump = Files.createTempFile(log.getParent(), "jstack-" + name() + "-", ".txt");
            final Process jstack = new ProcessBuilder(
                Path.of(System.getProperty("java.home"), "bin", "jstack").toString(), Long.toString(process.pid()))
                .redirectErrorStream(true)
                .redirectOutput(dump.toFile())
                .start();
            if (!jstack.waitFor(STOP_TIMEOUT_MS, TimeUnit.MILLISECONDS))
            {
                jstack.destroyForcibly();
                return "(jstack of controller " + name() + " did not answer within " + STOP_TIMEOUT_MS + " ms)";
            }
            return Files.readString(dump, StandardCharsets.UTF_8);
        }
        catch (final IOException ex)
        {
            return "(no thread dump of controller " + name() + ": " + ex + ")";
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            return "(interrupted while dumping the threads of controller " + name() + ")";
        }
        finally
        {
            deleteQuietly(dump);
        }
    }

    private static void deleteQuietly(final Path file)
    {
        if (file == null)
        {
            return;
        }
        try
        {
            Files.deleteIfExists(file);
        }
        catch (final IOException ex)
        {
            // a leftover temporary file beside the logs is harmless
        }
    }

    private void signal(final String signal)
    {
        try
        {
            final Process kill = new ProcessBuilder("kill", "-" + signal, Long.toString(process.pid()))
                .redirectErrorStream(true)
                .start();
            if (!kill.waitFor(STOP_TIMEOUT_MS, TimeUnit.MILLISECONDS))
            {
                kill.destroyForcibly();
                throw new IllegalStateException("kill -" + signal + " of controller " + name() + " did not return");
            }
            final String output = new String(kill.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (kill.exitValue() != 0)
            {
                throw new IllegalStateException("kill -" + signal + " " + process.pid() + " (controller " + name() +
                    ") exited with " + kill.exitValue() + ": " + output.trim());
            }
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("cannot send SIG" + signal + " to controller " + name(), ex);
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while sending SIG" + signal + " to controller " + name(), ex);
        }
    }

    private void awaitProcessState(final boolean stopped)
    {
        final Path stat = Path.of("/proc", Long.toString(process.pid()), "stat");
        Poll.until("controller " + name() + " (pid " + process.pid() + ") " + (stopped ? "stopped" : "running again"),
            STOP_TIMEOUT_MS, () -> stopped == isStoppedState(stat), this::logTail);
    }

    /** State field of {@code /proc/PID/stat}, after the command name in parentheses: T is stopped by a signal. */
    private static boolean isStoppedState(final Path stat)
    {
        try
        {
            final String text = Files.readString(stat, StandardCharsets.US_ASCII);
            final int end = text.lastIndexOf(')');
            if (end < 0 || end + 2 >= text.length())
            {
                throw new IllegalStateException("unexpected " + stat + ": " + text);
            }
            return text.charAt(end + 2) == 'T';
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("cannot read " + stat, ex);
        }
    }

    /** SIGKILL if running, then start and wait until up: a warm restart (T1). */
    public ControllerNode restart()
    {
        if (isAlive())
        {
            kill();
        }
        return startAndAwaitUp();
    }

    /** Waits (bounded) for the process to exit on its own and returns its exit code. */
    public int awaitExit(final long timeoutMs)
    {
        requireLaunched();
        if (!waitForExit(timeoutMs))
        {
            throw new AssertionError("controller " + name() + " still running after " + timeoutMs + " ms:\n" +
                logTail());
        }
        return process.exitValue();
    }

    private boolean waitForExit(final long timeoutMs)
    {
        try
        {
            return process.waitFor(timeoutMs, TimeUnit.MILLISECONDS);
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for controller " + name(), ex);
        }
    }

    public boolean isAlive()
    {
        return process != null && process.isAlive();
    }

    /** The pid of the last launch. */
    public long pid()
    {
        requireLaunched();
        return process.pid();
    }

    /** {@code nbd://HOST:PORT/VOLUME} from this node's run file (ports can differ between launches). */
    public String nbdUri(final String volume)
    {
        return readRunFile("nbd") + "/" + volume;
    }

    /** {@code nbd://HOST:PORT/} of this launch (the prefix of its volumes' URIs), from this node's run file. */
    public String nbdAddress()
    {
        return readRunFile("nbd") + "/";
    }

    /** {@code HOST:PORT} of the admin endpoint, from this node's run file. */
    public String adminEndpoint()
    {
        return readRunFile("admin");
    }

    /** Runs afactl (in this JVM) against this node; never throws for a refused command. */
    public AfactlResult afactl(final String... args)
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

    /**
     * This node's own {@code node} record of an admin {@code status} (node, state, pid, nbd, volumes, peerState, ...);
     * a pair's status also has a record for the peer, see {@link #peerStatus()}.
     */
    public Map<String, String> status() throws IOException
    {
        return nodeRecord(name());
    }

    /** The record an admin {@code status} of this node gives for its peer (state, link, volumes, ...). */
    public Map<String, String> peerStatus() throws IOException
    {
        return nodeRecord("A".equals(name()) ? "B" : "A");
    }

    private Map<String, String> nodeRecord(final String node) throws IOException
    {
        final List<Map<String, String>> records = admin(AdminRequest.of(AdminCommand.STATUS)).records("node");
        for (final Map<String, String> record : records)
        {
            if (node.equals(record.get("node")))
            {
                return record;
            }
        }
        throw new IOException("status of controller " + name() + " has no record of node " + node + ": " + records);
    }

    /** The {@code volume} record of an admin {@code volume show} (name, id, sizeBytes, mode, state, owner, export). */
    public Map<String, String> volume(final String volume) throws IOException
    {
        final List<Map<String, String>> records =
            admin(AdminRequest.of(AdminCommand.VOLUME_SHOW, "name", volume)).records("volume");
        if (records.size() != 1)
        {
            throw new IOException("volume show " + volume + " on controller " + name() + " has " + records.size() +
                " volume records");
        }
        return records.get(0);
    }

    /** One admin request; a refusal is an {@link IOException} naming this node and the controller's message. */
    public AdminResponse admin(final AdminRequest request) throws IOException
    {
        final AdminEndpoint endpoint = AdminEndpoint.parse(adminEndpoint(), runFile("admin").toString());
        try (AdminClient client = AdminClient.connect(endpoint, ADMIN_CONNECT_TIMEOUT_MS, ADMIN_READ_TIMEOUT_MS))
        {
            final AdminResponse response = client.send(request);
            if (!response.isOk())
            {
                throw new IOException("controller " + name() + " refused " + request + ": " + response.message());
            }
            return response;
        }
    }

    /** The log written since the last {@link #start()} (after its banner line). */
    public String logSinceLastStart()
    {
        try
        {
            final String text = Files.readString(log, StandardCharsets.UTF_8);
            final int banner = text.lastIndexOf(BANNER);
            final int end = banner < 0 ? -1 : text.indexOf('\n', banner);
            return end < 0 ? text : text.substring(end + 1);
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("cannot read " + log, ex);
        }
    }

    /** The last {@link #LOG_TAIL_LINES} lines of the log, with the node's state and the log's path. */
    public String logTail()
    {
        final String state = process == null ? "never started" :
            process.isAlive() ? "running, pid " + process.pid() : "exited with code " + process.exitValue();
        final StringBuilder text = new StringBuilder()
            .append("---- controller ").append(name()).append(" (").append(state).append("), last lines of ")
            .append(log).append(" ----\n");
        try
        {
            final List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
            for (final String line : lines.subList(Math.max(0, lines.size() - LOG_TAIL_LINES), lines.size()))
            {
                text.append(line).append('\n');
            }
        }
        catch (final IOException ex)
        {
            text.append("(no log: ").append(ex).append(")\n");
        }
        return text.toString();
    }

    /** Stops the process if it runs: SIGTERM, SIGKILL when it does not exit in time. Keeps the log. */
    @Override
    public void close()
    {
        if (isAlive())
        {
            if (frozen)
            {
                signal("CONT"); // else SIGTERM stays pending until the SIGKILL after STOP_TIMEOUT_MS
                frozen = false;
            }
            process.destroy();
            if (!waitForExit(STOP_TIMEOUT_MS))
            {
                process.destroyForcibly();
                waitForExit(STOP_TIMEOUT_MS);
            }
        }
    }

    private void requireLaunched()
    {
        if (process == null)
        {
            throw new IllegalStateException("controller " + name() + " was never started");
        }
    }

    private String readRunFile(final String suffix)
    {
        try
        {
            final String text = Files.readString(runFile(suffix)).trim();
            if (text.isEmpty())
            {
                throw new IllegalStateException(runFile(suffix) + " is empty: is controller " + name() + " up?");
            }
            return text;
        }
        catch (final IOException ex)
        {
            throw new IllegalStateException("controller " + name() + " has no " + runFile(suffix) +
                " (is it up?): " + ex);
        }
    }

    private Path runDir()
    {
        return ctx.arrayDir().resolve("run");
    }

    private Path runFile(final String suffix)
    {
        return runDir().resolve("node-" + name() + "." + suffix);
    }
}
