package io.afasim.mirror;

import java.net.DatagramSocket;
import java.net.InetAddress;
import java.util.Arrays;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LoopbackPortsTest
{
    @Test
    void portsAreDistinctBelowTheEphemeralRangeAndBindable() throws Exception
    {
        final int[] ports = LoopbackPorts.freeUdpPorts(8);
        assertEquals(8, Arrays.stream(ports).distinct().count(), Arrays.toString(ports));
        for (final int port : ports)
        {
            assertTrue(port >= LoopbackPorts.RANGE_LOW && port < LoopbackPorts.RANGE_LOW + LoopbackPorts.RANGE_SIZE &&
                port < 32768, "port " + port + " outside 20000..31999");
            try (DatagramSocket socket = new DatagramSocket(port, InetAddress.getLoopbackAddress()))
            {
                assertEquals(port, socket.getLocalPort(), "a returned port is free for the link to bind");
            }
        }
    }
}
