package io.afasim.controller;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.UUID;

/**
 * The array's identity on the shared shelf: {@code shelf/array.id}, one line {@code afasim-array 1 <uuid>}.
 * Written once by whichever controller starts first: the file is made complete under a temporary name and
 * published with a hard link, which fails if the peer published first (then the peer's id is used). Every
 * pool's drive headers and each controller's NVMe region carry this id, so a drive or region of another
 * array is refused.
 */
final class ArrayIdentity
{
    static final String FILE_NAME = "array.id";
    static final String MAGIC = "afasim-array 1 ";

    private ArrayIdentity()
    {
    }

    static UUID loadOrCreate(final Path shelfDir) throws IOException
    {
        Files.createDirectories(shelfDir);
        final Path file = shelfDir.resolve(FILE_NAME);
        if (!Files.exists(file))
        {
            if (Files.exists(shelfDir.resolve("ssd-00")) || Files.exists(shelfDir.resolve("volumes.conf")))
            {
                throw new IllegalStateException(shelfDir + " holds a shelf of the single-controller layout " +
                    "(drives directly in shelf/); this version keeps one pool per volume: start from a new array directory");
            }
            final Path temporary = Files.createTempFile(shelfDir, FILE_NAME, ".tmp");
            try
            {
                try (FileChannel channel = FileChannel.open(temporary, StandardOpenOption.WRITE))
                {
                    channel.write(java.nio.ByteBuffer.wrap(
                        (MAGIC + UUID.randomUUID() + "\n").getBytes(StandardCharsets.US_ASCII)));
                    channel.force(true);
                }
                Files.createLink(file, temporary);
                try (FileChannel dir = FileChannel.open(shelfDir, StandardOpenOption.READ))
                {
                    dir.force(true);
                }
            }
            catch (final FileAlreadyExistsException ex)
            {
                // the peer controller published first: use its id
            }
            finally
            {
                Files.deleteIfExists(temporary);
            }
        }
        final String text = Files.readString(file, StandardCharsets.US_ASCII).trim();
        if (!text.startsWith(MAGIC))
        {
            throw new IllegalStateException(file + ": not an afasim array identity (" + text + ")");
        }
        try
        {
            return UUID.fromString(text.substring(MAGIC.length()));
        }
        catch (final IllegalArgumentException ex)
        {
            throw new IllegalStateException(file + ": damaged array id: " + text, ex);
        }
    }
}
