package io.afasim.utmd;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TaskJournalTest
{
    @TempDir
    Path dir;

    private static JournalRecord record(final TaskPhase phase, final long taskId, final int step, final byte[] args,
        final String text)
    {
        return new JournalRecord().set(phase, 3, taskId, 1000 + taskId, 1_700_000_000_000L, step, 7, args, text);
    }

    private Path writeJournal(final String name) throws IOException
    {
        final Path file = dir.resolve(name);
        try (TaskJournal journal = TaskJournal.open(file, true))
        {
            journal.append(record(TaskPhase.STARTED, 1, -1, ExampleTasks.args("vol1:7"), null));
            journal.append(record(TaskPhase.STEP_BEGIN, 1, 0, null, null));
            journal.append(record(TaskPhase.ROLLING_BACK, 1, 0, null, "step 1/3 failed: \u4e2d\u6587 reason"));
            assertEquals(3, journal.recordCount());
        }
        return file;
    }

    @Test
    void recordsRoundTripWithArgsAndText() throws IOException
    {
        final Path file = writeJournal("roundtrip.journal");
        final List<JournalRecord> records = TaskJournal.readAll(file);
        assertEquals(3, records.size());
        assertEquals(TaskPhase.STARTED, records.get(0).phase());
        assertArrayEquals(ExampleTasks.args("vol1:7"), records.get(0).args());
        assertEquals(1001, records.get(0).correlationId());
        assertEquals(7, records.get(1).aux());
        assertEquals("step 1/3 failed: \u4e2d\u6587 reason", records.get(2).text());
        assertEquals(TaskJournal.HEADER_LENGTH, records.get(0).fileOffset());
    }

    @Test
    void tornTailAtEveryByteOffsetOfTheLastRecordIsIgnoredCleanly() throws IOException
    {
        final Path original = writeJournal("original.journal");
        final List<JournalRecord> records = TaskJournal.readAll(original);
        final long lastStart = records.get(2).fileOffset();
        final long end = Files.size(original);
        final byte[] bytes = Files.readAllBytes(original);
        for (long cut = lastStart; cut < end; cut++)
        {
            for (final boolean garbage : new boolean[] {false, true})
            {
                final Path file = dir.resolve("torn-" + cut + "-" + garbage + ".journal");
                final byte[] torn = new byte[garbage ? bytes.length : (int)cut];
                System.arraycopy(bytes, 0, torn, 0, (int)cut);
                if (garbage)
                {
                    // The tail beyond the cut holds old sector contents instead of the record's bytes.
                    for (int i = (int)cut; i < torn.length; i++)
                    {
                        torn[i] = (byte)(0x5A ^ i);
                    }
                }
                Files.write(file, torn);
                try (TaskJournal journal = TaskJournal.open(file, false))
                {
                    final String where = "cut at " + cut + (garbage ? " with garbage" : "");
                    assertEquals(2, journal.recordCount(), where);
                    assertEquals(torn.length - lastStart, journal.ignoredTailBytes(), where);
                    assertEquals(lastStart, Files.size(file), where + ": tail truncated away");
                    journal.append(record(TaskPhase.STEP_DONE, 1, 0, null, null));
                }
                final List<JournalRecord> after = TaskJournal.readAll(file);
                assertEquals(3, after.size());
                assertEquals(TaskPhase.STEP_DONE, after.get(2).phase(), "a new record follows the valid prefix");
            }
        }
    }

    @Test
    void flippedBitInTheLastRecordFailsItsChecksum() throws IOException
    {
        final Path file = writeJournal("flip.journal");
        final long lastStart = TaskJournal.readAll(file).get(2).fileOffset();
        final long end = Files.size(file);
        final byte[] bytes = Files.readAllBytes(file);
        for (long position = lastStart; position < end; position++)
        {
            final byte[] corrupt = bytes.clone();
            corrupt[(int)position] ^= 0x10;
            final Path copy = dir.resolve("flip-" + position + ".journal");
            Files.write(copy, corrupt);
            try (TaskJournal journal = TaskJournal.open(copy, false))
            {
                assertEquals(2, journal.recordCount(), "flip at " + position);
            }
        }
    }

    @Test
    void badHeaderOrNewerIncompatibleVersionIsAClearError() throws IOException
    {
        final Path file = writeJournal("header.journal");
        final byte[] bytes = Files.readAllBytes(file);
        final byte[] badMagic = bytes.clone();
        badMagic[0] = 'X';
        Files.write(dir.resolve("magic.journal"), badMagic);
        assertTrue(assertThrows(IOException.class, () -> TaskJournal.open(dir.resolve("magic.journal"), false))
            .getMessage().contains("bad magic"));

        final byte[] badCrc = bytes.clone();
        badCrc[17] ^= 1;
        Files.write(dir.resolve("crc.journal"), badCrc);
        assertTrue(assertThrows(IOException.class, () -> TaskJournal.open(dir.resolve("crc.journal"), false))
            .getMessage().contains("header checksum"));

        Files.write(dir.resolve("short.journal"), new byte[10]);
        assertThrows(IOException.class, () -> TaskJournal.open(dir.resolve("short.journal"), false));
    }

    @Test
    void newFileGetsAValidHeader() throws IOException
    {
        final Path file = dir.resolve("fresh.journal");
        try (TaskJournal journal = TaskJournal.open(file, true))
        {
            assertEquals(TaskJournal.HEADER_LENGTH, journal.lengthBytes());
            assertEquals(1, journal.taskIdBase());
        }
        final ByteBuffer header = ByteBuffer.allocate(TaskJournal.HEADER_LENGTH);
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ))
        {
            channel.read(header, 0);
        }
        assertEquals("UTMDJRNL", new String(header.array(), 0, 8, java.nio.charset.StandardCharsets.US_ASCII));
    }

    @Test
    void compactionKeepsHistoryAndTaskIdsAcrossRestartAndSurvivesACrashAtTheRename() throws Exception
    {
        for (final Boundary crashAt : new Boundary[] {null, Boundary.BEFORE_COMPACT_RENAME, Boundary.AFTER_COMPACT_RENAME})
        {
            final Path run = Files.createDirectories(dir.resolve("compact-" + crashAt));
            final ManualClock clock = new ManualClock(0);
            final Harness h = new Harness(run, clock, (boundary, taskId, step) ->
            {
                if (boundary == crashAt)
                {
                    throw new Harness.Crash("crash at " + boundary);
                }
            }, 1);
            h.manager.recover(0);
            for (int i = 0; i < 3; i++)
            {
                assertTrue(h.submit(h.tasks.volumeCreate, "v" + i + ":" + (i + 1), i).isAccepted());
            }
            try
            {
                h.drain();
                assertEquals(null, crashAt);
                assertEquals(1, h.manager.compactionCount());
                assertEquals(3, h.journal.recordCount(), "one final record per task");
            }
            catch (final Harness.Crash crash)
            {
                assertTrue(null != crashAt);
            }
            h.kill();

            final Harness after = new Harness(run, new ManualClock(5), BoundaryHook.NONE);
            assertEquals(0, after.manager.recover(5));
            assertEquals(3, after.manager.tasks().size(), "history kept: " + crashAt);
            for (final TaskInfo info : after.manager.tasks())
            {
                assertEquals(TaskState.COMPLETED, info.state());
                assertTrue(info.args().startsWith("v"), info.args());
            }
            assertTrue(after.submit(after.tasks.volumeDelete, "v0:1", 9).isAccepted());
            assertEquals(4, after.result.taskId(), "task ids are never reused");
            after.kill();
        }
    }
}
