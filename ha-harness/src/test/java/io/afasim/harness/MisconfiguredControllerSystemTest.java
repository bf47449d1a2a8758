package io.afasim.harness;

import io.afasim.controller.ControllerContext;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A controller started with a setting it cannot run with exits non-zero at once, with one line that names the
 * setting and the bad value: a malformed one before it touches anything (no shelf, no NVMe memory, no run files),
 * a link endpoint another process holds when it tries to open it (no run files; the link's own error lines may
 * come first).
 */
class MisconfiguredControllerSystemTest
{
    static final long EXIT_TIMEOUT_MS = 30_000;
    static final String REASON_PREFIX = "[afasim] controller cannot start: ";

    @TempDir(cleanup = CleanupMode.ON_SUCCESS)
    Path dir;

    static Stream<Arguments> misconfigurations()
    {
        return Stream.of(
            Arguments.of("garbage link endpoint", (UnaryOperator<ControllerContext>)ctx -> ctx.linkEndpoint("garbage"),
                "afasim.link.endpoint=garbage must be host:port"),
            Arguments.of("peer endpoint port out of range",
                (UnaryOperator<ControllerContext>)ctx -> ctx.linkPeerEndpoint("127.0.0.1:70000"),
                "afasim.link.peerEndpoint=127.0.0.1:70000 must be host:port with a UDP port in [1, 65535]"),
            Arguments.of("node C", (UnaryOperator<ControllerContext>)ctx -> ctx.node("C"),
                "afasim.node=C must be A or B"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("misconfigurations")
    void exitsNonZeroWithOneLineNamingTheSetting(
        final String name, final UnaryOperator<ControllerContext> misconfigure, final String reason) throws Exception
    {
        try (ControllerPair pair = ControllerPair.create(dir.resolve("array")))
        {
            final ControllerNode node = pair.launch(misconfigure.apply(pair.newContext("B")));
            final int exitCode = node.awaitExit(EXIT_TIMEOUT_MS);
            final List<String> lines = node.logSinceLastStart().lines().filter(line -> !line.isBlank()).toList();

            assertNotEquals(0, exitCode, node.logTail());
            assertEquals(1, lines.size(), "one line, no stack trace:\n" + node.logTail());
            assertTrue(lines.get(0).startsWith(REASON_PREFIX) && lines.get(0).contains(reason),
                "expected '" + REASON_PREFIX + reason + "...', got: " + lines.get(0));
            assertFalse(Files.exists(pair.arrayDir().resolve("shelf")), "the shelf was touched");
            assertFalse(Files.exists(pair.nvmeRoot()), "NVMe memory was created");
            assertFalse(Files.exists(pair.arrayDir().resolve("run").resolve("node-" + node.name() + ".pid")));
        }
    }

    @Test
    void exitsNonZeroWithOneLineWhenItsLinkEndpointIsBusy() throws Exception
    {
        try (ControllerPair pair = ControllerPair.create(dir.resolve("array"));
             DatagramSocket holder = new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0)))
        {
            final String busy = "127.0.0.1:" + holder.getLocalPort();
            final ControllerNode node = pair.launch(pair.newContext("B").linkEndpoint(busy));
            final int exitCode = node.awaitExit(EXIT_TIMEOUT_MS);
            final List<String> lines = node.logSinceLastStart().lines().filter(line -> !line.isBlank()).toList();

            final List<String> reasons = lines.stream().filter(line -> line.startsWith(REASON_PREFIX)).toList();

            assertNotEquals(0, exitCode, node.logTail());
            assertEquals(1, reasons.size(), "one reason line:\n" + node.logTail());
            assertTrue(reasons.get(0).startsWith(REASON_PREFIX + "link endpoint " + busy + " "),
                "expected '" + REASON_PREFIX + "link endpoint " + busy + " ...', got: " + reasons.get(0));
            assertTrue(lines.stream().noneMatch(line -> line.startsWith("\tat ") || line.startsWith("Exception in")),
                "no stack trace (the link's own error lines may precede the reason):\n" + node.logTail());
            assertFalse(Files.exists(pair.arrayDir().resolve("run").resolve("node-B.pid")));
        }
    }
}
