package io.afasim.journal;

import com.sun.jna.Native;
import com.sun.jna.Platform;

/**
 * Positional I/O on drive files through libc (JNA direct mapping: no per-call allocation).
 * Buffers are passed as raw addresses; errno is read with {@link Native#getLastError()}.
 */
final class NativeIo
{
    static final int O_RDONLY = 0;
    static final int O_RDWR = 2;
    static final int O_CREAT = 0100;
    /** x86-64 Linux value (../shared/STACK.md). */
    static final int O_DIRECT = 040000;
    static final int O_CLOEXEC = 02000000;
    static final int EINTR = 4;
    static final int EINVAL = 22;
    static final int ENOSPC = 28;
    /** O_DIRECT needs buffer address, offset and length aligned to the logical sector size. */
    static final int DIRECT_ALIGNMENT_BYTES = 512;

    static
    {
        Native.register(Platform.C_LIBRARY_NAME);
    }

    private NativeIo()
    {
    }

    static native int open(String path, int flags, int mode);

    static native long pread(int fd, long bufferAddress, long count, long offset);

    static native long pwrite(int fd, long bufferAddress, long count, long offset);

    static native int fdatasync(int fd);

    static native int ftruncate(int fd, long length);

    static native int close(int fd);

    static int errno()
    {
        return Native.getLastError();
    }
}
