package io.afasim.controller;

import java.nio.charset.StandardCharsets;

/**
 * One NBD export as the backend describes it. Block sizes follow the NBD spec (NBD_INFO_BLOCK_SIZE): the minimum
 * and preferred sizes are powers of two, the minimum at most 64 KiB, the maximum a multiple of the minimum.
 * The server advertises {@code min(maximumBlockSize, its own request data limit)} as the maximum.
 */
public record ExportInfo(int exportId, String name, String description, long sizeBytes, boolean readOnly,
                         boolean online, boolean multiConn, int minimumBlockSize, int preferredBlockSize,
                         int maximumBlockSize) {
    /** NBD limits strings to 4096 bytes. */
    public static final int NAME_BYTES_MAX = 4096;
    public static final int MINIMUM_BLOCK_SIZE_MAX = 64 * 1024;

    public ExportInfo {
        if (name == null || name.getBytes(StandardCharsets.UTF_8).length > NAME_BYTES_MAX) {
            throw new IllegalArgumentException("export name must be non-null and at most 4096 UTF-8 bytes: " + name);
        }
        if (description == null) {
            description = "";
        }
        if (description.getBytes(StandardCharsets.UTF_8).length > NAME_BYTES_MAX) {
            throw new IllegalArgumentException("export description longer than 4096 UTF-8 bytes: " + name);
        }
        if (sizeBytes < 0) {
            throw new IllegalArgumentException("sizeBytes must be >= 0: " + sizeBytes);
        }
        if (minimumBlockSize < 1 || minimumBlockSize > MINIMUM_BLOCK_SIZE_MAX || Integer.bitCount(minimumBlockSize) != 1) {
            throw new IllegalArgumentException("minimumBlockSize must be a power of two in [1, 65536]: " + minimumBlockSize);
        }
        if (preferredBlockSize < minimumBlockSize || Integer.bitCount(preferredBlockSize) != 1) {
            throw new IllegalArgumentException("preferredBlockSize must be a power of two >= minimumBlockSize: "
                + preferredBlockSize);
        }
        if (maximumBlockSize < preferredBlockSize || maximumBlockSize % minimumBlockSize != 0) {
            throw new IllegalArgumentException("maximumBlockSize must be >= preferredBlockSize and a multiple of "
                + "minimumBlockSize: " + maximumBlockSize);
        }
    }

    /** A writable, online, multi-conn export with 4 KiB preferred and 32 MiB maximum blocks, 1-byte minimum. */
    public static ExportInfo simple(int exportId, String name, long sizeBytes) {
        return new ExportInfo(exportId, name, "", sizeBytes, false, true, true, 1, 4096, 32 * 1024 * 1024);
    }

    public ExportInfo withOnline(boolean isOnline) {
        return new ExportInfo(exportId, name, description, sizeBytes, readOnly, isOnline, multiConn,
            minimumBlockSize, preferredBlockSize, maximumBlockSize);
    }
}
