package io.afasim.controller;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/** Test helpers: seeds, external commands with bounded waits, bounded polling. */
final class NbdTestSupport {
    private NbdTestSupport() {
    }

    /** -Dafasim.seed=N replays; blank (Maven passes "" when unset) means draw one. Printed either way. */
    static long seed() {
        final String property = System.getProperty("afasim.seed");
        final long seed = property == null || property.isBlank() ? new Random().nextLong() : Long.parseLong(property.trim());
        System.out.println("[afasim] seed=" + seed + " (replay with -Dafasim.seed=" + seed + ")");
        return seed;
    }

    record Result(int exitCode, String output) {
    }

    static boolean hasBinary(final String name) {
        final String path = System.getenv("PATH");
        if (path == null) {
            return false;
        }
        for (final String directory : path.split(File.pathSeparator)) {
            if (Files.isExecutable(Path.of(directory, name))) {
                return true;
            }
        }
        return false;
    }

    /** Runs a command with a bounded wait; output is stdout+stderr. */
    static Result run(final long timeoutSeconds, final String... command) throws IOException, InterruptedException {
        final Path log = Files.createTempFile("afasim-nbd-cmd", ".log");
        try {
            final Process process = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile())
                .start();
            if (!process.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                process.waitFor(10, TimeUnit.SECONDS);
                throw new AssertionError("command timed out after " + timeoutSeconds + " s: " + String.join(" ", command)
                    + "\n" + Files.readString(log, StandardCharsets.UTF_8));
            }
            return new Result(process.exitValue(), Files.readString(log, StandardCharsets.UTF_8));
        } finally {
            Files.deleteIfExists(log);
        }
    }

    static Result runOk(final long timeoutSeconds, final String... command) throws IOException, InterruptedException {
        final Result result = run(timeoutSeconds, command);
        if (result.exitCode() != 0) {
            throw new AssertionError("command failed (exit " + result.exitCode() + "): " + String.join(" ", command)
                + "\n" + result.output());
        }
        return result;
    }

    static void await(final String what, final long timeoutMs, final BooleanSupplier condition)
        throws InterruptedException {
        final long deadlineNs = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() - deadlineNs >= 0) {
                throw new AssertionError("timed out waiting for " + what);
            }
            java.util.concurrent.locks.LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
        }
    }

    static List<String> lines(final String text) {
        final List<String> lines = new ArrayList<>();
        for (final String line : text.split("\n")) {
            lines.add(line.strip());
        }
        return lines;
    }
}
