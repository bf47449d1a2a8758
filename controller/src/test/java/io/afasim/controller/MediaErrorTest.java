package io.afasim.controller;

import java.nio.file.Path;
import java.util.Arrays;

import io.afasim.journal.Drive;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A failed fdatasync of a volume's segment log (injected into the shelf drives of an in-process
 * controller) must never lead to acknowledging a write that is not durable: the volume is fenced,
 * its I/O fails with EIO, and a restart recovers everything acknowledged before the failure.
 */
class MediaErrorTest
{
    static final int BLOCK = 4096;

    @TempDir
    Path dir;

    private ControllerContext ctx;
    private Controller controller;

    @AfterEach
    void tearDown() throws Exception
    {
        if (controller != null)
        {
            controller.close();
        }
        if (ctx != null)
        {
            new ControllerProcess(ctx).close(); // deletes the NVMe directory (outside @TempDir)
        }
    }

    @Test
    void aFailedSegmentSyncFencesTheVolumeAndARestartKeepsEveryAcknowledgedWrite() throws Exception
    {
        ctx = ControllerProcess.testContext(dir.resolve("array"));
        controller = Controller.start(ctx);
        final ClusterAgent.TaskOutcome created = controller.createVolume("m", 8L << 20, WriteModeSetting.WT);
        assertTrue(created.ok(), created.message());
        final int volumeId = controller.agentByName("m").state().volumeId();
        final byte[] block = new byte[BLOCK];
        try (NbdClient client = NbdClient.connect("127.0.0.1", controller.nbdPort(), "m"))
        {
            for (int lba = 0; lba < 64; lba++)
            {
                Arrays.fill(block, (byte)(lba + 1));
                client.write((long)lba * BLOCK, block, 0, BLOCK, 0); // acknowledged = durable (WT)
            }
            for (int i = 0; i < controller.pool(volumeId).store().shelf().driveCount(); i++)
            {
                final Drive drive = controller.pool(volumeId).store().shelf().drive(i);
                drive.faults().failNextSyncs(1000);
            }
            Arrays.fill(block, (byte)0x77);
            final NbdException failed = assertThrows(NbdException.class, () -> client.write(0, block, 0, BLOCK, 0));
            assertEquals(HostRequest.EIO, failed.errno());
            assertThrows(NbdException.class, () -> client.write(BLOCK, block, 0, BLOCK, 0),
                "the volume stays fenced: nothing more is acknowledged");
            for (int i = 0; i < controller.pool(volumeId).store().shelf().driveCount(); i++)
            {
                controller.pool(volumeId).store().shelf().drive(i).faults().clear();
            }
            // the drives work again, but the records that referenced the dropped blocks must never commit
            assertThrows(NbdException.class, () -> client.write(10L * BLOCK, block, 0, BLOCK, 0),
                "a fenced volume does not come back by itself");
        }
        controller.close();
        controller = Controller.start(ctx);
        try (NbdClient client = NbdClient.connect("127.0.0.1", controller.nbdPort(), "m"))
        {
            final byte[] expected = new byte[BLOCK];
            for (int lba = 0; lba < 64; lba++)
            {
                client.read((long)lba * BLOCK, block, 0, BLOCK);
                Arrays.fill(expected, (byte)(lba + 1));
                assertArrayEquals(expected, block, "acknowledged block " + lba + " after restart");
            }
            Arrays.fill(block, (byte)0x55);
            client.write(0, block, 0, BLOCK, 0); // after the restart the volume takes writes again (throws if not)
        }
    }
}
