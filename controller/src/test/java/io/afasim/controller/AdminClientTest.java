package io.afasim.controller;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.util.List;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class AdminClientTest
{
    @Test
    void oneConnectionCarriesSeveralExchanges() throws IOException
    {
        try (FakeAdminServer server = new FakeAdminServer(request -> request.command() == AdminCommand.VOLUME_SHOW ?
            AdminResponse.error("no volume " + request.arg("name")) :
            AdminResponse.ok(List.of(AdminResponse.record("echo", "line", request.toString()))));
            AdminClient client = AdminClient.connect(AdminEndpoint.parse(server.endpoint(), "test")))
        {
            final AdminResponse status = client.send(AdminRequest.of(AdminCommand.STATUS));
            assertTrue(status.isOk());
            assertEquals("status", status.records("echo").get(0).get("line"));

            final AdminResponse refused = client.send(AdminRequest.of(AdminCommand.VOLUME_SHOW, "name", "v 1"));
            assertFalse(refused.isOk());
            assertEquals("no volume v 1", refused.message());

            final AdminResponse list = client.send(AdminRequest.of(AdminCommand.VOLUME_LIST));
            assertEquals("volume.list", list.records().get(0).get("line"));
            assertEquals(List.of("status", "volume.show name=v\\s1", "volume.list"), server.requestLines());
            assertEquals(List.of(), server.failures());
        }
    }

    @Test
    void aMalformedResponseIsAClearErrorAndClosesTheConnection() throws IOException
    {
        try (FakeAdminServer server = new FakeAdminServer(request -> "okay\n\n");
            AdminClient client = AdminClient.connect(AdminEndpoint.parse(server.endpoint(), "test")))
        {
            final AdminProtocolException ex = assertThrows(AdminProtocolException.class,
                () -> client.send(AdminRequest.of(AdminCommand.STATUS)));
            assertEquals("bad response from " + server.endpoint() +
                ": response does not start with 'ok' or 'error MESSAGE': 'okay'", ex.getMessage());
            final IOException again = assertThrows(IOException.class,
                () -> client.send(AdminRequest.of(AdminCommand.STATUS)));
            assertTrue(again.getMessage().contains("closed after an earlier error"), again.getMessage());
        }
    }

    @Test
    void aSilentEndpointHitsTheReadTimeout() throws IOException
    {
        try (FakeAdminServer server = new FakeAdminServer(request -> FakeAdminServer.SILENT);
            AdminClient client = AdminClient.connect(AdminEndpoint.parse(server.endpoint(), "test"), 1_000, 200))
        {
            final IOException ex = assertThrows(IOException.class,
                () -> client.send(AdminRequest.of(AdminCommand.STATUS)));
            assertEquals("admin endpoint " + server.endpoint() + " did not answer within 200 ms", ex.getMessage());
        }
    }

    @Test
    void anUnreachableEndpointNamesItselfAndItsSource() throws IOException
    {
        final int port = closedPort();
        final IOException ex = assertThrows(IOException.class,
            () -> AdminClient.connect(AdminEndpoint.parse("127.0.0.1:" + port, "AFASIM_ADMIN")));
        assertTrue(ex.getMessage().startsWith("cannot connect to admin endpoint 127.0.0.1:" + port +
            " (AFASIM_ADMIN): "), ex.getMessage());
    }

    @Test
    void endpointsParseAndNameBadInput()
    {
        final AdminEndpoint v4 = AdminEndpoint.parse(" 10.0.0.1:7391 ", "x");
        assertEquals("10.0.0.1", v4.host());
        assertEquals(7391, v4.port());
        assertEquals("[::1]:9", AdminEndpoint.parse("[::1]:9", "x").toString());
        for (final String bad : new String[] {"localhost", ":1", "h:", "h:0", "h:65536", "h:port"})
        {
            final IllegalArgumentException ex =
                assertThrows(IllegalArgumentException.class, () -> AdminEndpoint.parse(bad, "--endpoint"), bad);
            assertTrue(ex.getMessage().startsWith("--endpoint: "), ex.getMessage());
        }
    }

    /** A port nothing listens on: bound to an ephemeral port, then closed. */
    static int closedPort() throws IOException
    {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress()))
        {
            return socket.getLocalPort();
        }
    }
}
