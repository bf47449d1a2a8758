package io.afasim.journal;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.UUID;


/**
 * A shelf of simulated SSDs: {@code ssd-00 .. ssd-NN} in one directory, each starting with a
 * {@link DriveHeader}. Both controllers open the same shelf, as with dual-ported drives.
 * {@link #open(Path)} checks every header and refuses a foreign, damaged or misplaced drive.
 */
public final class Shelf implements AutoCloseable
{
    public static final String DRIVE_FILE_PREFIX = "ssd-";

    private final Path directory;
    private final UUID arrayId;
    private final ShelfLayout layout;
    private final Drive[] drives;

    private Shelf(final Path directory, final UUID arrayId, final ShelfLayout layout, final Drive[] drives)
    {
        this.directory = directory;
        this.arrayId = arrayId;
        this.layout = layout;
        this.drives = drives;
    }

    public static Path drivePath(final Path directory, final int index)
    {
        return directory.resolve(String.format("%s%02d", DRIVE_FILE_PREFIX, index));
    }

    /**
     * Creates the drive files and writes their headers (durably). Refuses a directory that already
     * holds a drive, so a shelf is never formatted over by accident.
     */
    public static Shelf format(final Path directory, final UUID arrayId, final ShelfConfig config)
    {
        return format(directory, arrayId, config, false);
    }

    /**
     * {@link #format(Path, UUID, ShelfConfig)}, with every drive written with zeros first when {@code zeroed}: no
     * holes, so no write of the array pays the host filesystem's block allocation (see
     * {@link Drive#openFile(Path, int, long, boolean, boolean)}). Takes the time to write the drives once.
     */
    public static Shelf format(final Path directory, final UUID arrayId, final ShelfConfig config, final boolean zeroed)
    {
        final ShelfLayout layout = new ShelfLayout(config);
        try
        {
            Files.createDirectories(directory);
        }
        catch (final IOException ex)
        {
            throw new ShelfException("shelf " + directory + ": cannot create directory", ex);
        }
        for (int i = 0; i < config.driveCount(); i++)
        {
            if (Files.exists(drivePath(directory, i)))
            {
                throw new ShelfException("shelf " + directory + ": " + drivePath(directory, i).getFileName() +
                    " already exists; refusing to format over it");
            }
        }

        final Drive[] drives = new Drive[config.driveCount()];
        final ByteBuffer block = Drive.allocateAligned(Drive.BLOCK_SIZE_BYTES);
        final long formatTimeMs = System.currentTimeMillis();
        try
        {
            for (int i = 0; i < drives.length; i++)
            {
                drives[i] = Drive.openFile(drivePath(directory, i), i, config.driveSizeBytes(), true, zeroed);
                new DriveHeader(arrayId, i, config, formatTimeMs).encode(block);
                checkStatus(drives[i], drives[i].write(ShelfLayout.HEADER_OFFSET_BYTES, block, 0, Drive.BLOCK_SIZE_BYTES));
                checkStatus(drives[i], drives[i].sync());
            }
        }
        catch (final RuntimeException ex)
        {
            closeAll(drives);
            throw ex;
        }
        return new Shelf(directory, arrayId, layout, drives);
    }

    /**
     * Opens every drive of the shelf in {@code directory} and validates its header: magic,
     * checksum, version, array id (all drives agree), drive index (matches the file name), geometry
     * (all drives agree) and file size.
     *
     * @throws ShelfException naming the first drive that is refused and why.
     */
    public static Shelf open(final Path directory)
    {
        final Path first = drivePath(directory, 0);
        if (!Files.exists(first))
        {
            throw new ShelfException("shelf " + directory + ": no " + first.getFileName() + " (not formatted?)");
        }
        final ByteBuffer block = Drive.allocateAligned(Drive.BLOCK_SIZE_BYTES);
        Drive[] drives = new Drive[1];
        try
        {
            drives[0] = openChecked(first, 0, block);
            final DriveHeader reference = DriveHeader.decode(block, first.getFileName().toString());
            checkHeader(reference, 0, reference, drives[0], first);
            final ShelfConfig config = reference.config();
            drives = java.util.Arrays.copyOf(drives, config.driveCount());
            for (int i = 1; i < config.driveCount(); i++)
            {
                final Path path = drivePath(directory, i);
                if (!Files.exists(path))
                {
                    throw new ShelfException("drive " + path.getFileName() + ": missing (shelf of array " +
                        reference.arrayId() + " has " + config.driveCount() + " drives)");
                }
                drives[i] = openChecked(path, i, block);
                final DriveHeader header = DriveHeader.decode(block, path.getFileName().toString());
                checkHeader(header, i, reference, drives[i], path);
            }
            return new Shelf(directory, reference.arrayId(), new ShelfLayout(config), drives);
        }
        catch (final RuntimeException ex)
        {
            closeAll(drives);
            throw ex;
        }
    }

    private static Drive openChecked(final Path path, final int index, final ByteBuffer block)
    {
        final long sizeBytes;
        try
        {
            sizeBytes = Files.size(path);
        }
        catch (final IOException ex)
        {
            throw new ShelfException("drive " + path.getFileName() + ": cannot stat", ex);
        }
        if (sizeBytes < Drive.BLOCK_SIZE_BYTES)
        {
            throw new ShelfException("drive " + path.getFileName() + ": " + sizeBytes + " bytes, too small to hold a header");
        }
        final Drive drive = Drive.openFile(path, index, sizeBytes, false);
        final int status = drive.read(ShelfLayout.HEADER_OFFSET_BYTES, block, 0, Drive.BLOCK_SIZE_BYTES);
        if (status != IoStatus.OK)
        {
            drive.close();
            throw new ShelfException("drive " + path.getFileName() + ": cannot read header: " + IoStatus.name(status));
        }
        return drive;
    }

    private static void checkHeader(
        final DriveHeader header, final int index, final DriveHeader reference, final Drive drive, final Path path)
    {
        final String name = path.getFileName().toString();
        if (!header.arrayId().equals(reference.arrayId()))
        {
            throw new ShelfException("drive " + name + ": belongs to array " + header.arrayId() +
                ", not to this shelf's array " + reference.arrayId() + " (foreign drive)");
        }
        if (header.driveIndex() != index)
        {
            throw new ShelfException("drive " + name + ": header says drive index " + header.driveIndex() +
                ", but it sits in slot " + index);
        }
        if (!header.config().equals(reference.config()))
        {
            throw new ShelfException("drive " + name + ": geometry " + header.config() + " differs from drive 0's " +
                reference.config());
        }
        if (drive.sizeBytes() != header.config().driveSizeBytes())
        {
            throw new ShelfException("drive " + name + ": file is " + drive.sizeBytes() + " bytes, header says " +
                header.config().driveSizeBytes());
        }
    }

    private static void checkStatus(final Drive drive, final int status)
    {
        if (status != IoStatus.OK)
        {
            throw new ShelfException("drive " + drive.name() + ": " + IoStatus.name(status));
        }
    }

    private static void closeAll(final Drive[] drives)
    {
        for (final Drive drive : drives)
        {
            if (drive != null)
            {
                drive.close();
            }
        }
    }

    public Path directory()
    {
        return directory;
    }

    public UUID arrayId()
    {
        return arrayId;
    }

    public ShelfLayout layout()
    {
        return layout;
    }

    public int driveCount()
    {
        return drives.length;
    }

    public Drive drive(final int index)
    {
        return drives[index];
    }

    /** The drive holding the superblocks, allocation bitmaps and the redo journal. */
    public Drive metadataDrive()
    {
        return drives[layout.metadataDrive()];
    }

    /** fdatasync on every drive. */
    public int syncAll()
    {
        int result = IoStatus.OK;
        for (final Drive drive : drives)
        {
            final int status = drive.sync();
            if (status != IoStatus.OK)
            {
                result = status;
            }
        }
        return result;
    }

    @Override
    public void close()
    {
        closeAll(drives);
    }
}
