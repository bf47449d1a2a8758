package io.afasim.controller;

import io.afasim.journal.Seeds;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Function;

import io.afasim.utmd.Boundary;
import io.afasim.utmd.BoundaryHook;
import io.afasim.utmd.TaskInfo;
import io.afasim.utmd.TaskState;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * A crash at every step boundary of every volume task type, in-process, on a real {@link Controller}: the
 * boundary hook throws an Error at the chosen boundary (the cluster agent stops there, as if the process
 * died), the controller is closed and a fresh one starts on the same array and task journal. After recovery
 * the array must be consistent (the volume table, the storage core and the running agents agree) and the
 * task must have completed or rolled back, as its policy says; {@code task list} shows what happened.
 *
 * <p>The boundaries of each type are found by a first run without a crash (every occurrence of every
 * (boundary, step) pair, so an async step is crashed both before and after its agent's reply).
 */
class TaskCrashRecoveryTest
{
    static final long WAIT_MS = 30_000;
    static final long POLL_NS = 1_000_000;

    @TempDir
    Path dir;

    private final CrashHook hook = new CrashHook();
    private ControllerContext ctx;
    private Controller controller;

    /** Throws at the n-th occurrence of a (boundary, step) pair once armed; records every boundary otherwise. */
    static final class CrashHook implements BoundaryHook
    {
        volatile boolean recording;
        volatile String target;
        volatile boolean fired;
        final List<String> seen = new ArrayList<>();
        final Map<String, Integer> counts = new HashMap<>();

        @Override
        public synchronized void onBoundary(final Boundary boundary, final long taskId, final int step)
        {
            if (!recording && target == null)
            {
                return;
            }
            final String pair = boundary + "@" + step;
            final int occurrence = counts.merge(pair, 1, Integer::sum);
            final String point = pair + "#" + occurrence;
            if (recording)
            {
                seen.add(point);
            }
            if (point.equals(target) && !fired)
            {
                fired = true;
                throw new InjectedCrash(point);
            }
        }

        synchronized void arm(final String point)
        {
            counts.clear();
            seen.clear();
            target = point;
            recording = point == null;
            fired = false;
        }

        synchronized void disarm()
        {
            target = null;
            recording = false;
        }
    }

    static final class InjectedCrash extends Error
    {
        InjectedCrash(final String point)
        {
            super("injected crash at " + point);
        }
    }

    /** One task type under test: how to prepare its volume, run it, and what must hold after. */
    record Scenario(
        String type,
        Function<String, String> setup,
        Function<String, ClusterAgent.TaskOutcome> command,
        Expectation expectation)
    {
    }

    @FunctionalInterface
    interface Expectation
    {
        /** Checks the volume after the task ended in {@code state}. */
        void check(String volume, TaskState state, Map<String, VolumeTable.Entry> table);
    }

    @AfterEach
    void stop() throws Exception
    {
        if (controller != null)
        {
            controller.close();
        }
        if (ctx != null)
        {
            new ControllerProcess(ctx).close(); // deletes the NVMe directory (outside @TempDir)
        }
    }

    @Test
    void crashAtEveryStepBoundaryOfEveryTaskTypeLeavesTheArrayConsistent() throws Exception
    {
        final long seed = Seeds.seed("TaskCrashRecoveryTest");
        final Random random = new Random(seed);
        ctx = ControllerProcess.testContext(dir.resolve("array")).quiesceTimeoutMs(10_000);
        controller = Controller.start(ctx, hook);

        final WriteModeSetting from = random.nextBoolean() ? WriteModeSetting.WT : WriteModeSetting.ONE_WAY_WB;
        final WriteModeSetting to = from == WriteModeSetting.WT ? WriteModeSetting.ONE_WAY_WB : WriteModeSetting.WT;
        final long sizeBytes = (1 + random.nextInt(16)) << 20;
        final List<Scenario> scenarios = List.of(
            new Scenario("volume-create", name -> null,
                name -> controller.createVolume(name, sizeBytes, from),
                (name, state, table) ->
                {
                    assertTrue(state == TaskState.COMPLETED || state == TaskState.ROLLED_BACK, name + " " + state);
                    assertEquals(state == TaskState.COMPLETED, table.containsKey(name), name + " " + state);
                }),
            new Scenario("volume-delete", name -> create(name, from),
                name -> controller.deleteVolume(name),
                (name, state, table) ->
                {
                    assertEquals(TaskState.COMPLETED, state, name);
                    assertFalse(table.containsKey(name), name);
                }),
            new Scenario("volume-offline", name -> create(name, from),
                name -> controller.setOnline(name, false),
                (name, state, table) ->
                {
                    assertEquals(TaskState.COMPLETED, state, name);
                    assertFalse(table.get(name).online(), name);
                }),
            new Scenario("volume-online", name ->
                {
                    final String created = create(name, from);
                    return created != null ? created : outcome(controller.setOnline(name, false));
                },
                name -> controller.setOnline(name, true),
                (name, state, table) ->
                {
                    assertEquals(TaskState.COMPLETED, state, name);
                    assertTrue(table.get(name).online(), name);
                }),
            new Scenario("volume-set-mode", name -> create(name, from),
                name -> controller.setMode(name, to),
                (name, state, table) ->
                {
                    assertEquals(TaskState.COMPLETED, state, name);
                    assertEquals(to, table.get(name).mode(), name);
                }));

        int cases = 0;
        final List<String> report = new ArrayList<>();
        for (final Scenario scenario : scenarios)
        {
            // discovery: the boundaries one task of this type passes
            final String probe = scenario.type().substring("volume-".length()) + "-probe";
            assertEquals(null, scenario.setup().apply(probe));
            hook.arm(null);
            final ClusterAgent.TaskOutcome clean = scenario.command().apply(probe);
            final List<String> points = new ArrayList<>(hook.seen);
            hook.disarm();
            assertTrue(clean.ok(), clean.message());
            cleanUp(probe);
            assertFalse(points.isEmpty(), scenario.type());

            for (final String point : points)
            {
                final String volume = scenario.type().substring("volume-".length()) + "-" + (++cases);
                assertEquals(null, scenario.setup().apply(volume), volume);
                hook.arm(point);
                final ClusterAgent.TaskOutcome crashed = scenario.command().apply(volume);
                hook.disarm();
                assertTrue(hook.fired, scenario.type() + ": boundary " + point + " not reached: " + crashed);
                assertFalse(crashed.ok() && !point.startsWith("AFTER_FINAL_RECORD"), point + ": " + crashed);

                controller.close();
                controller = Controller.start(ctx, hook);
                final TaskInfo task = awaitLastTaskFinished(scenario.type());
                final Map<String, VolumeTable.Entry> table = assertConsistent(scenario.type() + " crash at " + point);
                scenario.expectation().check(volume, task.state(), table);
                report.add(String.format("%-16s crash at %-32s -> %s", scenario.type(), point, task.line()));
                cleanUp(volume);
            }
        }
        report.forEach(line -> System.out.println("[afasim] " + line));
        assertTrue(cases >= 5 * 8, "only " + cases + " crash points");
    }

    private String create(final String name, final WriteModeSetting mode)
    {
        return outcome(controller.createVolume(name, 8L << 20, mode));
    }

    private static String outcome(final ClusterAgent.TaskOutcome outcome)
    {
        return outcome.ok() ? null : outcome.message();
    }

    private void cleanUp(final String name)
    {
        if (controller.agentByName(name) != null)
        {
            final ClusterAgent.TaskOutcome deleted = controller.deleteVolume(name);
            assertTrue(deleted.ok(), deleted.message());
        }
    }

    private TaskInfo awaitLastTaskFinished(final String type) throws Exception
    {
        final long deadlineMs = System.currentTimeMillis() + WAIT_MS;
        while (true)
        {
            final List<TaskInfo> tasks = controller.cluster().query(ClusterAgent::tasks, WAIT_MS);
            TaskInfo last = null;
            boolean unfinished = false;
            for (final TaskInfo info : tasks)
            {
                unfinished |= !info.isFinished();
                if (info.typeName().equals(type) && (last == null || info.taskId() > last.taskId()))
                {
                    last = info;
                }
            }
            if (last != null && !unfinished)
            {
                return last;
            }
            if (System.currentTimeMillis() > deadlineMs)
            {
                fail("tasks not finished within " + WAIT_MS + " ms: " + tasks);
            }
            LockSupport.parkNanos(POLL_NS); // bounded polling, no timing assumption
        }
    }

    /** Volume table, storage core and agents agree; returns the table by name. */
    Map<String, VolumeTable.Entry> assertConsistent(final String what) throws Exception
    {
        final VolumeTable.Contents contents = VolumeTable.read(ctx.shelfDir(), ctx.node());
        final Map<String, VolumeTable.Entry> table = new TreeMap<>();
        final TreeSet<Integer> tableIds = new TreeSet<>();
        for (final VolumeTable.Entry entry : contents.entries())
        {
            table.put(entry.name(), entry);
            tableIds.add(entry.volumeId());
            assertTrue(entry.volumeId() < contents.nextVolumeId(), what + ": next-id " + contents.nextVolumeId());
        }
        final TreeSet<Integer> coreIds = new TreeSet<>();
        for (final Pool pool : controller.pools())
        {
            coreIds.add(pool.volumeId());
            final int[] inPool = pool.store().volumeIds(); // read while the pool's journal agent is idle
            assertEquals(1, inPool.length, what + ": pool " + pool.volumeId() + " holds one volume");
            assertEquals(pool.volumeId(), inPool[0], what);
        }
        final TreeSet<Integer> poolDirs = new TreeSet<>();
        try (var dirs = java.nio.file.Files.list(ctx.shelfDir()))
        {
            dirs.map(Pool::volumeIdOf).filter(id -> id >= 0).forEach(poolDirs::add);
        }
        assertEquals(tableIds, coreIds, what + ": volume table vs open pools");
        assertEquals(tableIds, poolDirs, what + ": volume table vs pool directories on the shelf");
        final TreeSet<Integer> agentIds = new TreeSet<>();
        for (final VolumeAgent agent : controller.volumeAgents())
        {
            final VolumeState state = agent.state();
            agentIds.add(state.volumeId());
            final VolumeTable.Entry entry = table.get(state.name());
            assertNotNull(entry, what + ": agent of " + state.name() + " not in the table");
            assertEquals(entry.volumeId(), state.volumeId(), what);
            assertEquals(entry.mode(), state.mode(), what + ": mode of " + state.name());
            assertEquals(entry.online(), state.online(), what + ": online of " + state.name());
        }
        assertEquals(tableIds, agentIds, what + ": volume table vs agents");
        return table;
    }
}
