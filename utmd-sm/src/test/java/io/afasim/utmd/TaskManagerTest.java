package io.afasim.utmd;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TaskManagerTest
{
    @TempDir
    Path dir;

    private final ManualClock clock = new ManualClock(0);

    private Harness start(final BoundaryHook hook) throws Exception
    {
        final Harness h = new Harness(dir, clock, hook);
        assertEquals(0, h.manager.recover(clock.nanoTime()));
        return h;
    }

    @Test
    void tasksCompleteNormallyAndJournalSaysSo() throws Exception
    {
        final Harness h = start(BoundaryHook.NONE);
        assertTrue(h.submit(h.tasks.volumeCreate, "vol1:7", 42).isAccepted(), h.result.message());
        assertEquals(1, h.result.taskId());
        h.drain();
        assertTrue(h.submit(h.tasks.volumeSetMode, "vol1:7:WT", 43).isAccepted());
        h.drain();

        assertEquals("vol1", h.tasks.read("ids/7"));
        assertEquals("id=7", h.tasks.read("volumes/vol1.meta"));
        assertEquals("WT", h.tasks.read("volumes/vol1.mode"));
        assertEquals("resumed-WT", h.tasks.read("volumes/vol1.io"));
        final TaskInfo create = h.manager.task(1);
        assertEquals(TaskState.COMPLETED, create.state());
        assertEquals(42, create.correlationId());
        assertEquals(7, create.subjectId());
        assertEquals(0, h.manager.activeCount());

        final List<String> phases = new ArrayList<>();
        for (final JournalRecord r : TaskJournal.readAll(h.journal.file()))
        {
            if (r.taskId() == 1)
            {
                phases.add(r.phase() + (r.step() >= 0 ? "@" + r.step() : ""));
            }
        }
        assertEquals(List.of("STARTED", "STEP_BEGIN@0", "STEP_DONE@0", "STEP_BEGIN@1", "STEP_DONE@1",
            "STEP_BEGIN@2", "STEP_DONE@2", "COMPLETED@3"), phases);
        assertEquals(2, h.manager.tasks().size());
        assertTrue(h.manager.tasks().get(1).line().startsWith("2 volume-set-mode COMPLETED corr=43"),
            h.manager.tasks().get(1).line());
    }

    @Test
    void waitingTaskIsRetriggeredByTheParameterItWaitsOn() throws Exception
    {
        final Harness h = start(BoundaryHook.NONE);
        final Parameter unrelated = h.parameters.defineLong(5, "unrelated", 0);
        h.parameters.setInt(h.tasks.peerOnline, 0, clock.nanoTime());
        assertTrue(h.submit(h.tasks.volumeSetMode, "vol1:7:WB", 9).isAccepted());
        h.drain();

        TaskInfo info = h.manager.task(1);
        assertEquals(TaskState.WAITING, info.state());
        assertEquals("peer.online", info.waitParameter());
        assertEquals(0, info.step());
        assertNull(h.tasks.read("volumes/vol1.mode"), "nothing applied while waiting");
        assertEquals(0, h.manager.doWork(clock.advance(1_000_000)), "a waiting task takes no action");
        h.parameters.setLong(unrelated, 1, clock.nanoTime());
        assertEquals(0, h.manager.doWork(clock.advance(1)), "another parameter does not re-trigger it");

        h.parameters.setInt(h.tasks.peerOnline, 1, clock.nanoTime());
        h.drain();
        info = h.manager.task(1);
        assertEquals(TaskState.COMPLETED, info.state());
        assertEquals("WB", h.tasks.read("volumes/vol1.mode"));

        final TraceSnapshot snapshot = new TraceSnapshot(256);
        h.trace.copyByTask(1, snapshot);
        final List<TraceKind> kinds = kinds(snapshot);
        assertTrue(kinds.indexOf(TraceKind.TASK_WAIT) < kinds.indexOf(TraceKind.TASK_RETRIGGER));
        boolean sawWaiting = false;
        for (final JournalRecord r : TaskJournal.readAll(h.journal.file()))
        {
            if (r.phase() == TaskPhase.WAITING)
            {
                sawWaiting = true;
                assertEquals(h.tasks.peerOnline.id(), r.aux());
            }
        }
        assertTrue(sawWaiting);
        // The second STEP_BEGIN of the check step is attempt 2.
        int attempts = 0;
        for (int i = 0; i < snapshot.count(); i++)
        {
            if (snapshot.kind(i) == TraceKind.TASK_STEP_BEGIN && snapshot.step(i) == 0)
            {
                attempts = snapshot.detail(i);
            }
        }
        assertEquals(2, attempts);
    }

    @Test
    void conflictingSubmitIsRefusedNamingTheRunningTaskOthersProceed() throws Exception
    {
        final List<String> refusals = new ArrayList<>();
        final Harness[] holder = new Harness[1];
        final SubmitResult other = new SubmitResult();
        // While set-mode on vol1 sits between its steps 1 and 2, try a delete of vol1 and one of vol2.
        final Harness h = start((boundary, taskId, step) ->
        {
            if (boundary == Boundary.AFTER_STEP_DONE_RECORD && taskId == 2 && step == 0)
            {
                final Harness self = holder[0];
                final SubmitResult refused = self.manager.submit(self.tasks.volumeDelete, ExampleTasks.args("vol1:7"), 77,
                    clock.nanoTime(), other);
                refusals.add(refused.status() + " " + refused.message() + " blocking=" + refused.blockingTaskId());
            }
        });
        holder[0] = h;
        assertTrue(h.submit(h.tasks.volumeCreate, "vol2:8", 1).isAccepted());
        h.drain();
        assertTrue(h.submit(h.tasks.volumeSetMode, "vol1:7:WT", 2).isAccepted());
        h.drain();
        assertEquals(List.of("REFUSED_CONFLICT refused: volume vol1 is busy with task 2 (volume-set-mode, step 2/4) blocking=2"),
            refusals);

        // Waiting task: still holds its key, and the message says what it waits for.
        h.parameters.setInt(h.tasks.peerOnline, 0, clock.nanoTime());
        assertTrue(h.submit(h.tasks.volumeSetMode, "vol1:7:WB", 3).isAccepted());
        h.drain();
        final SubmitResult refused = h.submit(h.tasks.volumeDelete, "vol1:7", 4);
        assertEquals(SubmitStatus.REFUSED_CONFLICT, refused.status());
        assertEquals("refused: volume vol1 is busy with task 3 (volume-set-mode, waiting at step 1/4 for peer.online)",
            refused.message());

        // Another volume proceeds while vol1's task waits.
        final SubmitResult accepted = h.submit(h.tasks.volumeDelete, "vol2:8", 5);
        assertTrue(accepted.isAccepted(), accepted.message());
        h.drain();
        assertEquals(TaskState.COMPLETED, h.manager.task(accepted.taskId()).state());
        assertNull(h.tasks.read("exports/vol2"));

        // A cluster-wide task conflicts with every volume task.
        final SubmitResult failover = h.submit(h.tasks.clusterFailover, "x:0", 6);
        assertEquals("refused: cluster is busy with task 3 (volume-set-mode, waiting at step 1/4 for peer.online)",
            failover.message());

        // Gate decisions are traced, under the blocking task and the refused command's subject.
        final TraceSnapshot snapshot = new TraceSnapshot(512);
        h.trace.copyByTask(3, snapshot);
        assertTrue(kinds(snapshot).contains(TraceKind.GATE_REFUSED));
        h.trace.copyBySubject(8, snapshot);
        assertTrue(kinds(snapshot).contains(TraceKind.GATE_ACCEPTED));

        h.parameters.setInt(h.tasks.peerOnline, 1, clock.nanoTime());
        h.drain();
        assertTrue(h.submit(h.tasks.volumeDelete, "vol1:7", 7).isAccepted(), "free again once finished");
    }

    @Test
    void badRequestsAreRefusedClearly() throws Exception
    {
        final Harness fresh = new Harness(dir, clock, BoundaryHook.NONE);
        assertEquals(SubmitStatus.REFUSED_NOT_RECOVERED, fresh.submit(fresh.tasks.volumeCreate, "a:1", 1).status());
        fresh.manager.recover(clock.nanoTime());
        assertEquals(SubmitStatus.REFUSED_BAD_REQUEST,
            fresh.manager.submit(fresh.tasks.volumeCreate, new byte[UtmdLimits.TASK_ARGS_BYTES_MAX + 1], 1, 0,
                fresh.result).status());
        final SubmitResult badArgs = fresh.submit(fresh.tasks.volumeCreate, "a:notanumber", 1);
        assertEquals(SubmitStatus.REFUSED_BAD_REQUEST, badArgs.status());
        assertTrue(badArgs.message().contains("bad arguments"), badArgs.message());
        final TaskType unregistered = TaskType.builder(99, "x", RecoveryPolicy.REDO_FORWARD)
            .step("s", ctx -> StepOutcome.DONE).build();
        assertEquals(SubmitStatus.REFUSED_BAD_REQUEST, fresh.submit(unregistered, "", 1).status());
    }

    @Test
    void tooManyUnfinishedTasksIsRefused() throws Exception
    {
        final Harness h = start(BoundaryHook.NONE);
        h.parameters.setInt(h.tasks.peerOnline, 0, clock.nanoTime());
        for (int i = 0; i < UtmdLimits.TASKS_ACTIVE_MAX; i++)
        {
            assertTrue(h.submit(h.tasks.volumeSetMode, "v" + i + ":" + (i + 1) + ":WT", i).isAccepted());
        }
        h.drain();
        assertEquals(SubmitStatus.REFUSED_TASKS_FULL, h.submit(h.tasks.volumeSetMode, "other:999:WT", 1).status());
    }

    @Test
    void hardFailureRollsBackAndFailureWithoutUndoEndsFailed() throws Exception
    {
        final Harness h = start(BoundaryHook.NONE);
        assertTrue(h.submit(h.tasks.volumeCreate, "vol3:9:fail3", 1).isAccepted());
        h.drain();
        final TaskInfo info = h.manager.task(1);
        assertEquals(TaskState.ROLLED_BACK, info.state());
        assertEquals("step 3/3 (publish-export) failed: export table full", info.message());
        assertNull(h.tasks.read("ids/9"));
        assertNull(h.tasks.read("volumes/vol3.meta"));
        assertFalse(info.line().isEmpty());

        // A step that throws is an unexpected error: counted, handed to the error handler, treated as FAILED.
        final TaskType throwing = TaskType.builder(20, "throwing", RecoveryPolicy.REDO_FORWARD)
            .step("boom", ctx ->
            {
                throw new IllegalStateException("boom");
            })
            .build();
        h.tasks.registry.register(throwing);
        assertTrue(h.manager.submit(throwing, new byte[0], 5, clock.nanoTime(), h.result).isAccepted());
        h.drain();
        assertEquals(TaskState.FAILED, h.manager.task(h.result.taskId()).state());
        assertTrue(h.manager.task(h.result.taskId()).message().contains("boom"));
        assertEquals(1, h.manager.errorCount());
        assertEquals(1, h.errors.size());
    }

    @Test
    void transitionsOfATaskAppearInOrderInTheTraceAndFormat() throws Exception
    {
        final Harness h = start(BoundaryHook.NONE);
        assertTrue(h.submit(h.tasks.volumeSetMode, "vol1:7:WT", 42).isAccepted());
        h.drain();
        final TraceSnapshot snapshot = new TraceSnapshot(256);
        h.trace.copyByTask(1, snapshot);
        final List<String> flow = new ArrayList<>();
        for (int i = 0; i < snapshot.count(); i++)
        {
            flow.add(snapshot.kind(i) + (snapshot.step(i) >= 0 ? "@" + snapshot.step(i) : ""));
            assertEquals(42, snapshot.correlationId(i));
            assertEquals(7, snapshot.subjectId(i));
            if (i > 0)
            {
                assertTrue(snapshot.timestampNs(i) >= snapshot.timestampNs(i - 1));
            }
        }
        assertEquals(List.of("GATE_ACCEPTED", "TASK_STATE@0",
            "TASK_STEP_BEGIN@0", "TASK_STEP_DONE@0", "TASK_STEP_BEGIN@1", "TASK_STEP_DONE@1",
            "TASK_STEP_BEGIN@2", "TASK_STEP_DONE@2", "TASK_STEP_BEGIN@3", "TASK_STEP_DONE@3", "TASK_STATE@4"), flow);

        final String text = new TraceFormatter(h.tasks.registry, null, h.parameters)
            .formatAll(snapshot, snapshot.timestampNs(0), new StringBuilder()).toString();
        assertTrue(text.contains("task=1 corr=42 subj=7 volume-set-mode STEP_BEGIN 3/4 write-mode attempt=1"), text);
        assertTrue(text.contains("STATE RUNNING -> COMPLETED"), text);
        assertEquals(snapshot.count(), text.lines().count());
    }

    static List<TraceKind> kinds(final TraceSnapshot snapshot)
    {
        final List<TraceKind> kinds = new ArrayList<>();
        for (int i = 0; i < snapshot.count(); i++)
        {
            kinds.add(snapshot.kind(i));
        }
        return kinds;
    }
}
