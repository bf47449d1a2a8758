package io.afasim.controller;

/**
 * What the NBD server needs from the I/O stack.
 * <p>
 * The server validates every request before {@link #submit}: the command is known, the flags are legal for it,
 * {@code offsetBytes + lengthBytes <= sizeBytes}, READ/WRITE lengths are at most the advertised maximum block size,
 * writes never reach a read-only export. Requests are NOT aligned by the server: a backend with a larger minimum
 * block size advertises it in {@link ExportInfo} (clients that asked for block size info honour it) and must still
 * cope with (or fail with EINVAL) an unaligned request from a client that did not ask.
 */
public interface NbdBackend {
    /** Exports in listing order (called rarely: handshake only). */
    java.util.List<ExportInfo> exports();

    /** The export of that name, or null. An offline volume is listed but `open` returns an ExportInfo with online=false. */
    ExportInfo open(String name);

    /** Submits a request; the backend completes it exactly once, from any thread, via request.complete(errno). Never blocks. */
    void submit(HostRequest request);

    /**
     * The loop (thread) that serves connections to export {@code exportId} once one has picked it, or null: the
     * network thread does. Called on the network thread as a connection enters transmission; the loop's thread is
     * then the one that calls {@link #submit} for that connection.
     */
    default NbdLoop loopFor(final int exportId) {
        return null;
    }
}
