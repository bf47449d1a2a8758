package io.afasim.utmd;

import java.nio.charset.StandardCharsets;

/**
 * One decoded (or to-be-encoded) {@link TaskJournal} record. Mutable and reused by its owner.
 */
public final class JournalRecord
{
    private static final byte[] EMPTY = new byte[0];

    TaskPhase phase;
    int typeId;
    long taskId;
    long correlationId;
    long timestampMs;
    int step;
    int aux;
    byte[] args = EMPTY;
    String text = "";
    long fileOffset;

    JournalRecord set(
        final TaskPhase phase,
        final int typeId,
        final long taskId,
        final long correlationId,
        final long timestampMs,
        final int step,
        final int aux,
        final byte[] args,
        final String text)
    {
        this.phase = phase;
        this.typeId = typeId;
        this.taskId = taskId;
        this.correlationId = correlationId;
        this.timestampMs = timestampMs;
        this.step = step;
        this.aux = aux;
        this.args = null == args ? EMPTY : args;
        this.text = null == text ? "" : text;
        return this;
    }

    public TaskPhase phase()
    {
        return phase;
    }

    public int typeId()
    {
        return typeId;
    }

    public long taskId()
    {
        return taskId;
    }

    public long correlationId()
    {
        return correlationId;
    }

    public long timestampMs()
    {
        return timestampMs;
    }

    public int step()
    {
        return step;
    }

    /**
     * @return STEP_BEGIN: attempt; WAITING: parameter id; RECOVERED: {@link RecoveryAction} code; else 0.
     */
    public int aux()
    {
        return aux;
    }

    public byte[] args()
    {
        return args;
    }

    public String text()
    {
        return text;
    }

    /**
     * @return where the record starts in the journal file (after a read).
     */
    public long fileOffset()
    {
        return fileOffset;
    }

    byte[] textBytes()
    {
        final byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        if (bytes.length <= TaskJournal.TEXT_BYTES_MAX)
        {
            return bytes;
        }
        final byte[] truncated = new byte[TaskJournal.TEXT_BYTES_MAX];
        System.arraycopy(bytes, 0, truncated, 0, truncated.length);
        return truncated;
    }

    public String toString()
    {
        return "task " + taskId + " type " + typeId + " " + phase + " step " + step + " aux " + aux +
            " corr " + correlationId + " args " + args.length + "B" + (text.isEmpty() ? "" : " '" + text + "'");
    }
}
