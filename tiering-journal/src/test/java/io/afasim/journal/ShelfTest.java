package io.afasim.journal;

import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.UUID;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ShelfTest
{
    static final ShelfConfig SMALL = new ShelfConfig(3, 16L << 20, 1 << 20, 2L << 20);

    @TempDir
    Path dir;

    @Test
    void formatThenOpenKeepsIdentityAndGeometry()
    {
        final UUID arrayId = UUID.randomUUID();
        try (Shelf shelf = Shelf.format(dir, arrayId, SMALL))
        {
            assertEquals(3, shelf.driveCount());
        }
        try (Shelf shelf = Shelf.open(dir))
        {
            assertEquals(arrayId, shelf.arrayId());
            assertEquals(SMALL, shelf.layout().config());
            assertTrue(shelf.drive(0).directIo(), "ext4 under /tmp supports O_DIRECT: " + shelf.drive(0));
        }
    }

    @Test
    void aZeroedShelfHasNoHolesAndASparseOneHasNothingBeyondItsHeaders() throws Exception
    {
        try (Shelf shelf = Shelf.format(dir.resolve("zeroed"), UUID.randomUUID(), SMALL, true))
        {
            for (int i = 0; i < shelf.driveCount(); i++)
            {
                final Path file = Shelf.drivePath(dir.resolve("zeroed"), i);
                assertEquals(SMALL.driveSizeBytes(), allocatedBytes(file), file + ": every block allocated");
                final ByteBuffer in = Drive.allocateAligned(4096);
                assertEquals(IoStatus.OK, shelf.drive(i).read(SMALL.driveSizeBytes() - 4096, in, 0, 4096));
                assertEquals(ByteBuffer.allocateDirect(4096), in, "the drive's last block reads as zeros");
            }
        }
        try (Shelf shelf = Shelf.format(dir.resolve("sparse"), UUID.randomUUID(), SMALL))
        {
            final Path file = Shelf.drivePath(dir.resolve("sparse"), 0);
            assertTrue(allocatedBytes(file) < SMALL.driveSizeBytes() / 4,
                file + ": a sparse drive holds its header, not " + allocatedBytes(file) + " bytes");
        }
    }

    /** Bytes the host filesystem allocated to {@code file} (stat's block count times its block unit). */
    private static long allocatedBytes(final Path file) throws Exception
    {
        final Process stat = new ProcessBuilder("stat", "-c", "%b %B", file.toString()).redirectErrorStream(true).start();
        final String[] out = new String(stat.getInputStream().readAllBytes()).trim().split(" ");
        assertEquals(0, stat.waitFor(), "stat " + file + ": " + String.join(" ", out));
        return Long.parseLong(out[0]) * Long.parseLong(out[1]);
    }

    @Test
    void dataWrittenAtAnOffsetReadsBack()
    {
        try (Shelf shelf = Shelf.format(dir, UUID.randomUUID(), SMALL))
        {
            final Drive drive = shelf.drive(1);
            final ByteBuffer out = Drive.allocateAligned(8192);
            for (int i = 0; i < 8192; i++)
            {
                out.put(i, (byte)(i * 31));
            }
            assertEquals(IoStatus.OK, drive.write(2L << 20, out, 0, 8192));
            assertEquals(IoStatus.OK, drive.sync());
            final ByteBuffer in = Drive.allocateAligned(8192);
            assertEquals(IoStatus.OK, drive.read(2L << 20, in, 0, 8192));
            assertEquals(out, in);
            assertEquals(IoStatus.OUT_OF_RANGE, drive.read(drive.sizeBytes(), in, 0, 4096));
        }
    }

    @Test
    void refusesToFormatOverAnExistingShelf()
    {
        Shelf.format(dir, UUID.randomUUID(), SMALL).close();
        final ShelfException ex = assertThrows(ShelfException.class, () -> Shelf.format(dir, UUID.randomUUID(), SMALL));
        assertTrue(ex.getMessage().contains("already exists"), ex.getMessage());
    }

    @Test
    void refusesAForeignDrive(@TempDir final Path other) throws Exception
    {
        Shelf.format(dir, UUID.randomUUID(), SMALL).close();
        Shelf.format(other, UUID.randomUUID(), SMALL).close();
        java.nio.file.Files.copy(Shelf.drivePath(other, 2), Shelf.drivePath(dir, 2),
            java.nio.file.StandardCopyOption.REPLACE_EXISTING);

        final ShelfException ex = assertThrows(ShelfException.class, () -> Shelf.open(dir));
        assertTrue(ex.getMessage().contains("ssd-02") && ex.getMessage().contains("foreign drive"), ex.getMessage());
    }

    @Test
    void refusesADamagedHeader() throws Exception
    {
        Shelf.format(dir, UUID.randomUUID(), SMALL).close();
        try (RandomAccessFile file = new RandomAccessFile(Shelf.drivePath(dir, 1).toFile(), "rw"))
        {
            file.seek(DriveHeader.DRIVE_SIZE_OFFSET);
            file.write(0x7f);
        }
        final ShelfException ex = assertThrows(ShelfException.class, () -> Shelf.open(dir));
        assertTrue(ex.getMessage().contains("ssd-01") && ex.getMessage().contains("checksum mismatch"), ex.getMessage());
    }

    @Test
    void refusesADriveInTheWrongSlot() throws Exception
    {
        Shelf.format(dir, UUID.randomUUID(), SMALL).close();
        final Path tmp = dir.resolve("swap");
        java.nio.file.Files.move(Shelf.drivePath(dir, 1), tmp);
        java.nio.file.Files.move(Shelf.drivePath(dir, 2), Shelf.drivePath(dir, 1));
        java.nio.file.Files.move(tmp, Shelf.drivePath(dir, 2));

        final ShelfException ex = assertThrows(ShelfException.class, () -> Shelf.open(dir));
        assertTrue(ex.getMessage().contains("drive index 2, but it sits in slot 1"), ex.getMessage());
    }

    @Test
    void refusesAFileThatIsNotADrive() throws Exception
    {
        Shelf.format(dir, UUID.randomUUID(), SMALL).close();
        try (RandomAccessFile file = new RandomAccessFile(Shelf.drivePath(dir, 0).toFile(), "rw"))
        {
            file.write(new byte[64]);
        }
        final ShelfException ex = assertThrows(ShelfException.class, () -> Shelf.open(dir));
        assertTrue(ex.getMessage().contains("ssd-00") && ex.getMessage().contains("not an afasim drive"), ex.getMessage());
    }

    @Test
    void injectedFaultsSurfaceAsStatus()
    {
        try (Shelf shelf = Shelf.format(dir, UUID.randomUUID(), SMALL))
        {
            final Drive drive = shelf.drive(0);
            final ByteBuffer buffer = Drive.allocateAligned(4096);
            drive.faults().failNextReads(1);
            assertEquals(IoStatus.MEDIA_ERROR, drive.read(0, buffer, 0, 4096));
            assertEquals(IoStatus.OK, drive.read(0, buffer, 0, 4096));
            drive.faults().failNextWrites(1);
            assertEquals(IoStatus.MEDIA_ERROR, drive.write(1L << 20, buffer, 0, 4096));
            assertEquals(2, drive.faults().injectedCount());
        }
    }
}
