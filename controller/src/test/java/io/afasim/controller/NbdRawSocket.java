package io.afasim.controller;

import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

import static io.afasim.controller.NbdProtocol.*;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** A raw NBD socket for protocol edge cases: sends exactly the bytes a test wants and decodes replies. */
final class NbdRawSocket implements AutoCloseable {
    static final int TIMEOUT_MS = 10_000;

    record OptionReply(int option, int type, byte[] data) {
        String text() {
            return new String(data, StandardCharsets.UTF_8);
        }
    }

    record Chunk(int flags, int type, long cookie, byte[] payload) {
        int errno() {
            return ByteBuffer.wrap(payload).getInt(0);
        }

        String errorMessage() {
            final int length = ByteBuffer.wrap(payload).getShort(4) & 0xFFFF;
            return new String(payload, 6, length, StandardCharsets.UTF_8);
        }
    }

    final Socket socket;
    final DataInputStream in;
    final DataOutputStream out;

    private NbdRawSocket(final int port) throws IOException {
        socket = new Socket("127.0.0.1", port);
        socket.setSoTimeout(TIMEOUT_MS);
        socket.setTcpNoDelay(true);
        in = new DataInputStream(new BufferedInputStream(socket.getInputStream()));
        out = new DataOutputStream(socket.getOutputStream());
    }

    /** Connects and reads the greeting; sends fixed newstyle + no zeroes client flags. */
    static NbdRawSocket connect(final int port) throws IOException {
        final NbdRawSocket raw = new NbdRawSocket(port);
        assertEquals(NBDMAGIC, raw.in.readLong());
        assertEquals(IHAVEOPT, raw.in.readLong());
        assertEquals(FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES, raw.in.readUnsignedShort());
        raw.out.writeInt(FLAG_C_FIXED_NEWSTYLE | FLAG_C_NO_ZEROES);
        return raw;
    }

    void option(final int option, final byte[] data) throws IOException {
        out.writeLong(IHAVEOPT);
        out.writeInt(option);
        out.writeInt(data.length);
        out.write(data);
        out.flush();
    }

    OptionReply readOptionReply() throws IOException {
        assertEquals(OPTION_REPLY_MAGIC, in.readLong());
        final int option = in.readInt();
        final int type = in.readInt();
        final byte[] data = new byte[in.readInt()];
        in.readFully(data);
        return new OptionReply(option, type, data);
    }

    static byte[] nameAndInfos(final String name, final int... infos) {
        final byte[] bytes = name.getBytes(StandardCharsets.UTF_8);
        final ByteBuffer buffer = ByteBuffer.allocate(4 + bytes.length + 2 + 2 * infos.length);
        buffer.putInt(bytes.length).put(bytes).putShort((short)infos.length);
        for (final int info : infos) {
            buffer.putShort((short)info);
        }
        return buffer.array();
    }

    static byte[] metaContextQuery(final String name, final String... queries) {
        final byte[] bytes = name.getBytes(StandardCharsets.UTF_8);
        int length = 4 + bytes.length + 4;
        for (final String query : queries) {
            length += 4 + query.length();
        }
        final ByteBuffer buffer = ByteBuffer.allocate(length);
        buffer.putInt(bytes.length).put(bytes).putInt(queries.length);
        for (final String query : queries) {
            buffer.putInt(query.length()).put(query.getBytes(StandardCharsets.US_ASCII));
        }
        return buffer.array();
    }

    /** OPT_GO on name; returns the NBD_INFO_EXPORT payload (size, flags) after the ACK. */
    long[] go(final String name) throws IOException {
        option(OPT_GO, nameAndInfos(name, INFO_BLOCK_SIZE));
        long[] export = null;
        while (true) {
            final OptionReply reply = readOptionReply();
            if (reply.type() == REP_ACK) {
                return export;
            }
            assertEquals(REP_INFO, reply.type(), "GO reply: " + reply.text());
            final ByteBuffer data = ByteBuffer.wrap(reply.data());
            if (data.getShort(0) == INFO_EXPORT) {
                export = new long[] {data.getLong(2), data.getShort(10) & 0xFFFF};
            }
        }
    }

    void structuredReplies() throws IOException {
        option(OPT_STRUCTURED_REPLY, new byte[0]);
        assertEquals(REP_ACK, readOptionReply().type());
    }

    void request(final int flags, final int command, final long cookie, final long offset, final long length,
                 final byte[] payload) throws IOException {
        out.writeInt(REQUEST_MAGIC);
        out.writeShort(flags);
        out.writeShort(command);
        out.writeLong(cookie);
        out.writeLong(offset);
        out.writeInt((int)length);
        if (payload != null) {
            out.write(payload);
        }
        out.flush();
    }

    /** Simple reply: returns {errno, cookie}; reads dataBytes of payload when errno == 0. */
    long[] readSimpleReply(final byte[] data) throws IOException {
        assertEquals(SIMPLE_REPLY_MAGIC, in.readInt());
        final int errno = in.readInt();
        final long cookie = in.readLong();
        if (errno == 0 && data != null) {
            in.readFully(data);
        }
        return new long[] {errno, cookie};
    }

    Chunk readChunk() throws IOException {
        assertEquals(STRUCTURED_REPLY_MAGIC, in.readInt());
        final int flags = in.readUnsignedShort();
        final int type = in.readUnsignedShort();
        final long cookie = in.readLong();
        final byte[] payload = new byte[in.readInt()];
        in.readFully(payload);
        return new Chunk(flags, type, cookie, payload);
    }

    /** True when the server closed the connection (EOF or reset) within the socket timeout. */
    boolean closedByPeer() throws IOException {
        try {
            while (true) {
                if (in.read() < 0) {
                    return true;
                }
            }
        } catch (final SocketTimeoutException ex) {
            return false;
        } catch (final IOException ex) {
            return true; // connection reset
        }
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
