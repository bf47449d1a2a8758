package io.afasim.utmd;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * A crash at every boundary of every example task type (in-process: the boundary hook throws, the
 * "process" is dropped, a fresh one recovers from the same journal file). The external effect is
 * all-or-nothing: REDO_FORWARD tasks complete, ROLL_BACK tasks complete (crash after their last STEP_DONE)
 * or roll back; the journal and the task list say what happened.
 */
class CrashRecoveryTest
{
    @TempDir
    Path tempDir;

    record Scenario(String name, Consumer<ExampleTasks> prepare, Consumer<Harness> act, Consumer<Harness> verify)
    {
    }

    private static final long TASK = 1;

    static void createdAllOrNothing(final Harness h)
    {
        final TaskInfo info = h.manager.task(TASK);
        final ExampleTasks t = h.tasks;
        if (info.state() == TaskState.COMPLETED)
        {
            assertEquals("vol1", t.read("ids/7"));
            assertEquals("id=7", t.read("volumes/vol1.meta"));
            assertEquals("nbd", t.read("exports/vol1"));
        }
        else
        {
            assertEquals(TaskState.ROLLED_BACK, info.state(), info.line());
            assertNothingOf(t, "ids/7", "volumes/vol1.meta", "exports/vol1");
        }
    }

    static void assertNothingOf(final ExampleTasks t, final String... files)
    {
        for (final String file : files)
        {
            assertNull(t.read(file), file + " left behind");
        }
    }

    static final List<Scenario> SCENARIOS = List.of(
        new Scenario("volume-create (ROLL_BACK)", t -> {},
            h -> submit(h, h.tasks.volumeCreate, "vol1:7"),
            CrashRecoveryTest::createdAllOrNothing),
        new Scenario("volume-create failing at step 3 (roll back interrupted)", t -> {},
            h -> submit(h, h.tasks.volumeCreate, "vol1:7:fail3"),
            h ->
            {
                assertEquals(TaskState.ROLLED_BACK, h.manager.task(TASK).state());
                assertNothingOf(h.tasks, "ids/7", "volumes/vol1.meta", "exports/vol1");
            }),
        new Scenario("volume-set-mode (REDO_FORWARD)",
            t -> writeState(t, "WB"),
            h -> submit(h, h.tasks.volumeSetMode, "vol1:7:WT"),
            h -> assertSwitched(h, "WT")),
        new Scenario("volume-set-mode waiting for the peer (REDO_FORWARD)",
            t -> writeState(t, "WB"),
            h ->
            {
                h.parameters.setInt(h.tasks.peerOnline, 0, h.clock.nanoTime());
                submit(h, h.tasks.volumeSetMode, "vol1:7:WT");
                h.drain();
                assertEquals(TaskState.WAITING, h.manager.task(TASK).state());
                h.parameters.setInt(h.tasks.peerOnline, 1, h.clock.nanoTime());
            },
            h -> assertSwitched(h, "WT")),
        new Scenario("volume-delete (REDO_FORWARD)",
            t ->
            {
                ExampleTasks.write(t.root.resolve("ids/7"), "vol1");
                ExampleTasks.write(t.root.resolve("volumes/vol1.meta"), "id=7");
                ExampleTasks.write(t.root.resolve("exports/vol1"), "nbd");
            },
            h -> submit(h, h.tasks.volumeDelete, "vol1:7"),
            h ->
            {
                assertEquals(TaskState.COMPLETED, h.manager.task(TASK).state());
                assertNothingOf(h.tasks, "ids/7", "volumes/vol1.meta", "exports/vol1");
            }));

    static void writeState(final ExampleTasks t, final String mode)
    {
        ExampleTasks.write(t.root.resolve("volumes/vol1.mode"), mode);
        ExampleTasks.write(t.root.resolve("volumes/vol1.io"), "resumed-" + mode);
    }

    static void assertSwitched(final Harness h, final String mode)
    {
        assertEquals(TaskState.COMPLETED, h.manager.task(TASK).state(), h.manager.task(TASK).line());
        assertEquals(mode, h.tasks.read("volumes/vol1.mode"));
        assertEquals("resumed-" + mode, h.tasks.read("volumes/vol1.io"));
    }

    static void submit(final Harness h, final TaskType type, final String args)
    {
        final SubmitResult result = h.submit(type, args, 500);
        assertTrue(result.isAccepted(), result.message());
        assertEquals(TASK, result.taskId());
    }

    /** Run the scenario in one process with a hook; returns the hook (which counted boundaries). */
    private static Harness.CrashAt runFirstProcess(final Scenario s, final Path dir, final int crashAt)
    {
        return runFirstProcess(s, dir, crashAt, crashAt > 0);
    }

    private static Harness.CrashAt runFirstProcess(
        final Scenario s, final Path dir, final int crashAt, final boolean mustCrash)
    {
        final ManualClock clock = new ManualClock(0);
        final Harness.CrashAt hook = new Harness.CrashAt(crashAt);
        final Harness h = new Harness(dir, clock, hook);
        try
        {
            h.manager.recover(clock.nanoTime());
            s.act.accept(h);
            h.drain();
            if (mustCrash)
            {
                fail(s.name + ": expected a crash at boundary " + crashAt + " of " + hook.count);
            }
            s.verify.accept(h);
        }
        catch (final Harness.Crash crash)
        {
            assertTrue(crashAt > 0);
        }
        finally
        {
            h.kill();
        }
        return hook;
    }

    private static Harness restart(final Path dir, final BoundaryHook hook)
    {
        final ManualClock clock = new ManualClock(1_000_000_000L);
        final Harness h = new Harness(dir, clock, hook);
        h.manager.recover(clock.nanoTime());
        h.drain();
        return h;
    }

    @Test
    void crashAtEveryBoundaryOfEveryTaskTypeCompletesOrRollsBack() throws Exception
    {
        int runs = 0;
        for (final Scenario s : SCENARIOS)
        {
            final Path cleanDir = Files.createDirectories(tempDir.resolve("clean-" + runs));
            s.prepare.accept(new ExampleTasks(cleanDir.resolve("effects"), new ParameterSet(new EventTrace(8))));
            final int boundaries = runFirstProcess(s, cleanDir, 0).count;
            assertTrue(boundaries >= 8, s.name + ": only " + boundaries + " boundaries");

            final Set<Boundary> crashedAt = EnumSet.noneOf(Boundary.class);
            final Set<TaskState> outcomes = EnumSet.noneOf(TaskState.class);
            for (int k = 1; k <= boundaries; k++)
            {
                final Path dir = Files.createDirectories(tempDir.resolve("run-" + runs++));
                s.prepare.accept(new ExampleTasks(dir.resolve("effects"), new ParameterSet(new EventTrace(8))));
                final Harness.CrashAt hook = runFirstProcess(s, dir, k);
                assertNotNull(hook.crashedAt, s.name + " k=" + k);
                crashedAt.add(hook.crashedAt);

                final Harness h = restart(dir, BoundaryHook.NONE);
                try
                {
                    final String where = s.name + ", crash " + k + "/" + boundaries + " at " + hook.crashedAt;
                    assertEquals(0, h.manager.activeCount(), where);
                    s.verify.accept(h);
                    final TaskInfo info = h.manager.task(TASK);
                    outcomes.add(info.state());
                    final boolean finalWritten = hook.crashedAt == Boundary.AFTER_FINAL_RECORD;
                    assertEquals(finalWritten ? 0 : 1, info.recoveryCount(), where + ": " + info.line());
                    final List<JournalRecord> records = TaskJournal.readAll(h.journal.file());
                    final long recovered = records.stream().filter(r -> r.phase() == TaskPhase.RECOVERED).count();
                    assertEquals(finalWritten ? 0 : 1, recovered, where);
                    final JournalRecord last = records.get(records.size() - 1);
                    assertEquals(TASK, last.taskId());
                    assertEquals(info.state().name(), last.phase().name(), where + ": journal ends with the outcome");
                    assertTrue(h.manager.tasks().get(0).line().startsWith("1 " + info.typeName() + " " + info.state()));
                }
                finally
                {
                    h.kill();
                }
            }
            assertTrue(crashedAt.contains(Boundary.AFTER_STEP_BEGIN_RECORD), s.name);
            assertTrue(crashedAt.contains(Boundary.AFTER_APPLY), s.name);
            assertTrue(crashedAt.contains(Boundary.BEFORE_STEP_BEGIN_RECORD), s.name);
            if (s.name.equals("volume-create (ROLL_BACK)"))
            {
                assertEquals(EnumSet.of(TaskState.COMPLETED, TaskState.ROLLED_BACK), outcomes, "both outcomes seen");
            }
        }
    }

    @Test
    void repeatedCrashesIncludingDuringRecoveryStillConverge() throws Exception
    {
        final long seed = TestSeeds.seed();
        final Random random = new Random(seed);
        int runs = 0;
        for (final Scenario s : SCENARIOS)
        {
            for (int round = 0; round < 12; round++)
            {
                final Path dir = Files.createDirectories(tempDir.resolve("multi-" + runs++));
                s.prepare.accept(new ExampleTasks(dir.resolve("effects"), new ParameterSet(new EventTrace(8))));
                final Harness.CrashAt first = runFirstProcess(s, dir, 1 + random.nextInt(20), false);
                final int crashes = random.nextInt(4);
                for (int c = 0; c < crashes; c++)
                {
                    try
                    {
                        restart(dir, new Harness.CrashAt(1 + random.nextInt(8))).kill();
                    }
                    catch (final Harness.Crash expected)
                    {
                        // The restart's journal channel is dropped with the "process"; reopened below.
                    }
                }
                final Harness h = restart(dir, BoundaryHook.NONE);
                try
                {
                    if (null != first.crashedAt)
                    {
                        s.verify.accept(h);
                    }
                    assertEquals(0, h.manager.activeCount(), s.name + " seed " + seed);
                }
                finally
                {
                    h.kill();
                }
            }
        }
    }

    @Test
    void tornJournalTailMeansTheLastRecordNeverHappened() throws Exception
    {
        // Crash just after the STEP_DONE record of step 2 of volume-create reached the file, then tear that
        // record (as if the crash hit while it was written): recovery must see step 2 as begun, not done, and
        // roll back steps 2 and 1.
        final Path dir = Files.createDirectories(tempDir.resolve("torn"));
        final long[] cut = new long[2];
        final Harness h = new Harness(dir, new ManualClock(0), (boundary, taskId, step) ->
        {
            if (boundary == Boundary.AFTER_STEP_DONE_RECORD && step == 1)
            {
                throw new Harness.Crash("crash after STEP_DONE of step 2");
            }
        });
        h.manager.recover(0);
        assertThrows(Harness.Crash.class, () ->
        {
            submit(h, h.tasks.volumeCreate, "vol1:7");
            h.drain();
        });
        h.kill();
        assertEquals("id=7", h.tasks.read("volumes/vol1.meta"), "step 2 applied before the crash");
        final List<JournalRecord> records = TaskJournal.readAll(dir.resolve("tasks.journal"));
        for (int i = 0; i < records.size(); i++)
        {
            final JournalRecord r = records.get(i);
            if (r.phase() == TaskPhase.STEP_DONE && r.step() == 1)
            {
                assertEquals(records.size() - 1, i, "STEP_DONE of step 2 is the last record");
                cut[0] = r.fileOffset();
                cut[1] = Files.size(dir.resolve("tasks.journal"));
            }
        }
        assertTrue(cut[1] > cut[0]);
        // Tear it at a middle byte.
        try (var channel = java.nio.channels.FileChannel.open(dir.resolve("tasks.journal"),
            java.nio.file.StandardOpenOption.WRITE))
        {
            channel.truncate(cut[0] + (cut[1] - cut[0]) / 2);
        }
        final Harness after = restart(dir, BoundaryHook.NONE);
        try
        {
            assertEquals((cut[1] - cut[0]) / 2, after.journal.ignoredTailBytes());
            assertEquals(TaskState.ROLLED_BACK, after.manager.task(TASK).state());
            assertNothingOf(after.tasks, "ids/7", "volumes/vol1.meta", "exports/vol1");
            final TraceSnapshot snapshot = new TraceSnapshot(64);
            after.trace.copyAll(snapshot);
            assertEquals(TraceKind.JOURNAL_TORN_TAIL, snapshot.kind(0));
        }
        finally
        {
            after.kill();
        }
    }

    @Test
    void unknownTaskTypeInJournalEndsFailedWithAReason() throws Exception
    {
        final Path dir = Files.createDirectories(tempDir.resolve("unknown"));
        final Harness h = new Harness(dir, new ManualClock(0), new Harness.CrashAt(2));
        h.manager.recover(0);
        assertThrows(Harness.Crash.class, () ->
        {
            submit(h, h.tasks.volumeCreate, "vol1:7");
            h.drain();
        });
        h.kill();
        // Rewrite the STARTED record with a type this build does not know (type 77), by re-journalling.
        final List<JournalRecord> records = TaskJournal.readAll(dir.resolve("tasks.journal"));
        Files.delete(dir.resolve("tasks.journal"));
        try (TaskJournal journal = TaskJournal.open(dir.resolve("tasks.journal"), false))
        {
            for (final JournalRecord r : records)
            {
                journal.append(new JournalRecord().set(r.phase(), 77, r.taskId(), r.correlationId(), r.timestampMs(),
                    r.step(), r.aux(), r.args(), r.text()));
            }
        }
        final Harness after = restart(dir, BoundaryHook.NONE);
        try
        {
            final TaskInfo info = after.manager.task(TASK);
            assertEquals(TaskState.FAILED, info.state());
            assertEquals(RecoveryAction.FAIL_UNKNOWN_TYPE, info.lastRecovery());
            assertTrue(info.message().contains("unknown task type 77"), info.message());
        }
        finally
        {
            after.kill();
        }
    }
}
