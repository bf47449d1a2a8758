package io.afasim.utmd;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class StateMachineTest
{
    enum Mode implements StateCode
    {
        IDLE(10), ACTIVE(20), DEGRADED(30);

        private final int code;

        Mode(final int code)
        {
            this.code = code;
        }

        public int code()
        {
            return code;
        }
    }

    private final ManualClock clock = new ManualClock(1_000);
    private final EventTrace trace = new EventTrace(1024);
    private final List<Throwable> errors = new ArrayList<>();
    private ParameterSet parameters;
    private StateMachineRunner runner;
    private final List<String> log = new ArrayList<>();

    @BeforeEach
    void setUp()
    {
        parameters = new ParameterSet(trace);
        runner = new StateMachineRunner(parameters, trace, errors::add);
    }

    /** Subscribes to {@code in}, only reads {@code observed}; ACTIVE while in != 0, entry action logs. */
    final class Follower extends StateMachine<Mode>
    {
        final Parameter in;
        final Parameter observed;
        long lastObserved = -1;
        int entries;

        Follower(final int id, final Parameter in, final Parameter observed)
        {
            super(id, "follower-" + id, 7, Mode.IDLE);
            this.in = in;
            this.observed = observed;
            subscribe(in);
            if (null != observed)
            {
                observe(observed);
            }
        }

        protected void onTrigger(final long nowNs, final int cause)
        {
            log.add(name() + ":" + cause);
            if (null != observed)
            {
                lastObserved = read(observed);
            }
            transitionTo(read(in) != 0 ? Mode.ACTIVE : Mode.IDLE, nowNs);
        }

        protected void onEntry(final Mode entered, final long nowNs)
        {
            entries++;
            log.add(name() + " enter " + entered);
        }
    }

    private void drain()
    {
        int guard = 0;
        while (!runner.isQuiet())
        {
            runner.doWork(clock.nanoTime());
            assertTrue(++guard < 100, "runner did not go quiet");
        }
    }

    @Test
    void subscribedInputTriggersAndNonSubscribedInputIsOnlyRead()
    {
        final Parameter a = parameters.defineLong(1, "a", 0);
        final Parameter b = parameters.defineLong(2, "b", 5);
        final Follower machine = new Follower(0, a, b);
        runner.register(machine);
        assertEquals(1, runner.doWork(clock.nanoTime()), "initial trigger");
        assertEquals(Mode.IDLE, machine.state());
        assertEquals(5, machine.lastObserved);

        parameters.setLong(b, 6, clock.nanoTime());
        assertEquals(0, runner.doWork(clock.nanoTime()), "a non-subscribed input does not trigger");
        assertEquals(5, machine.lastObserved);

        parameters.setLong(a, 1, clock.nanoTime());
        assertEquals(1, runner.doWork(clock.nanoTime()));
        assertEquals(Mode.ACTIVE, machine.state());
        assertEquals(6, machine.lastObserved, "read the non-subscribed input when triggered");
        assertEquals(1, machine.entries);

        parameters.setLong(a, 1, clock.nanoTime());
        assertEquals(0, runner.doWork(clock.nanoTime()), "setting the same value is not a change");
    }

    @Test
    void machineTriggeredByItsOutputOnly()
    {
        final Parameter input = parameters.defineLong(1, "desired", 0);
        final Parameter out = parameters.defineLong(2, "mode", 0);
        final List<Long> seen = new ArrayList<>();
        final StateMachine<Mode> machine = new StateMachine<>(3, "output-driven", 0, Mode.IDLE)
        {
            {
                observe(input);
                output(out, true);
            }

            protected void onTrigger(final long nowNs, final int cause)
            {
                seen.add(read(out));
                // Writes its output once more: one re-trigger, then the value is stable.
                if (read(out) == 1)
                {
                    write(out, 2, nowNs);
                }
                transitionTo(read(out) == 0 ? Mode.IDLE : Mode.ACTIVE, nowNs);
            }
        };
        runner.register(machine);
        drain();
        assertEquals(List.of(0L), seen);

        parameters.setLong(input, 9, clock.nanoTime());
        drain();
        assertEquals(List.of(0L), seen, "inputs of an output-triggered machine are only read");

        parameters.setLong(out, 1, clock.nanoTime());
        drain();
        assertEquals(List.of(0L, 1L, 2L), seen, "output change triggers; its own write re-triggers once");
        assertEquals(Mode.ACTIVE, machine.state());
        assertEquals(0, runner.stormCount());
    }

    @Test
    void timerRetriggersAtDeadlineAcrossNanoTimeWrap()
    {
        final ManualClock wrapClock = new ManualClock(Long.MAX_VALUE - 50);
        final List<Integer> causes = new ArrayList<>();
        final StateMachine<Mode> machine = new StateMachine<>(1, "timed", 0, Mode.IDLE)
        {
            protected void onTrigger(final long nowNs, final int cause)
            {
                causes.add(cause);
                if (cause == CAUSE_INITIAL)
                {
                    armTimer(nowNs + 100);
                }
                else if (cause == CAUSE_TIMER)
                {
                    transitionTo(Mode.DEGRADED, nowNs);
                }
            }
        };
        runner.register(machine);
        runner.doWork(wrapClock.nanoTime());
        assertTrue(machine.isTimerArmed());
        assertTrue(machine.timerDeadlineNs() < 0, "deadline wrapped past Long.MAX_VALUE");

        assertEquals(0, runner.doWork(wrapClock.advance(99)));
        assertEquals(Mode.IDLE, machine.state());
        assertEquals(1, runner.doWork(wrapClock.advance(1)));
        assertEquals(Mode.DEGRADED, machine.state());
        assertEquals(List.of(StateMachine.CAUSE_INITIAL, StateMachine.CAUSE_TIMER), causes);
        assertFalse(machine.isTimerArmed());
        assertEquals(0, runner.doWork(wrapClock.advance(1000)), "a timer fires once");
    }

    @Test
    void triggerStormIsDetectedSuspendedAndTracedNotLooped()
    {
        final Parameter counter = parameters.defineLong(1, "counter", 0);
        final StateMachine<Mode> storm = new StateMachine<>(5, "self-trigger", 0, Mode.IDLE)
        {
            {
                output(counter, true);
            }

            protected void onTrigger(final long nowNs, final int cause)
            {
                write(counter, read(counter) + 1, nowNs);
            }
        };
        final Parameter other = parameters.defineLong(2, "other", 0);
        final Follower bystander = new Follower(6, other, null);
        runner.register(storm);
        runner.register(bystander);

        int calls = 0;
        while (!runner.isQuiet())
        {
            final int delivered = runner.doWork(clock.advance(1));
            assertTrue(delivered <= UtmdLimits.TRIGGERS_PER_DO_WORK_MAX);
            assertTrue(++calls < 10, "storm must not loop");
        }
        assertTrue(runner.isSuspended(5));
        assertEquals(1, runner.stormCount());
        assertEquals(UtmdLimits.STORM_TRIGGERS_MAX, parameters.getLong(counter));
        assertTrue(kinds().contains(TraceKind.MACHINE_STORM));

        parameters.setLong(counter, 1000, clock.nanoTime());
        assertEquals(0, runner.doWork(clock.nanoTime()), "suspended machine is not triggered");
        parameters.setLong(other, 1, clock.nanoTime());
        assertEquals(1, runner.doWork(clock.nanoTime()), "other machines keep working");
        assertEquals(Mode.ACTIVE, bystander.state());

        runner.resume(5, clock.nanoTime());
        assertFalse(runner.isSuspended(5));
        final int delivered = runner.doWork(clock.nanoTime());
        assertEquals(UtmdLimits.STORM_TRIGGERS_MAX, delivered, "resumed, it storms again, and is caught again");
        assertTrue(runner.isSuspended(5));
        assertEquals(2, runner.stormCount());
    }

    @Test
    void triggersAreDeliveredInDeterministicOrderAndOncePerMachine()
    {
        final Parameter a = parameters.defineLong(1, "a", 0);
        final Parameter b = parameters.defineLong(2, "b", 0);
        runner.register(new Follower(2, a, null));
        runner.register(new Follower(0, a, null));
        runner.register(new Follower(9, b, null));
        runner.register(new Follower(1, a, b));
        drain();
        log.clear();

        parameters.setLong(b, 1, clock.nanoTime());
        parameters.setLong(a, 1, clock.nanoTime());
        parameters.setLong(a, 2, clock.nanoTime());
        drain();
        final List<String> triggers = new ArrayList<>();
        for (final String line : log)
        {
            if (!line.contains("enter"))
            {
                triggers.add(line);
            }
        }
        // b's subscriber first (changed first), then a's in registration order; each once, with its first cause.
        assertEquals(List.of("follower-9:2", "follower-2:1", "follower-0:1", "follower-1:1"), triggers);
    }

    @Test
    void randomizedChangesGiveTheSameTraceOnReplay()
    {
        final long seed = TestSeeds.seed();
        assertEquals(runRandom(seed), runRandom(seed));
    }

    private List<String> runRandom(final long seed)
    {
        final Random random = new Random(seed);
        final EventTrace localTrace = new EventTrace(4096);
        final ParameterSet localParameters = new ParameterSet(localTrace);
        final StateMachineRunner localRunner = new StateMachineRunner(localParameters, localTrace, errors::add);
        final Parameter[] ps = new Parameter[4];
        for (int i = 0; i < ps.length; i++)
        {
            ps[i] = localParameters.defineLong(i, "p" + i, 0);
        }
        for (int m = 0; m < 8; m++)
        {
            final Parameter in = ps[random.nextInt(ps.length)];
            final Parameter out = ps[random.nextInt(ps.length)];
            final int id = m;
            localRunner.register(new StateMachine<Mode>(id, "m" + id, 0, Mode.IDLE)
            {
                {
                    subscribe(in);
                    if (out != in)
                    {
                        output(out, false);
                    }
                }

                protected void onTrigger(final long nowNs, final int cause)
                {
                    transitionTo(read(in) % 2 == 0 ? Mode.IDLE : Mode.ACTIVE, nowNs);
                    if (out != in && read(in) % 3 == 0)
                    {
                        write(out, read(in) + id, nowNs);
                    }
                }
            });
        }
        long now = 0;
        for (int i = 0; i < 200; i++)
        {
            now += 1 + random.nextInt(10);
            if (random.nextBoolean())
            {
                localParameters.setLong(ps[random.nextInt(ps.length)], random.nextInt(7), now);
            }
            localRunner.doWork(now);
        }
        final TraceSnapshot snapshot = new TraceSnapshot(4096);
        localTrace.copyAll(snapshot);
        final List<String> events = new ArrayList<>();
        for (int i = 0; i < snapshot.count(); i++)
        {
            events.add(snapshot.timestampNs(i) + " " + snapshot.kind(i) + " " + snapshot.sourceId(i) + " " +
                snapshot.fromCode(i) + "->" + snapshot.toCode(i) + " " + snapshot.detail(i));
        }
        assertTrue(events.size() > 10);
        return events;
    }

    @Test
    void transitionTracesRunsEntryAndChecksDeclarations()
    {
        final Parameter a = parameters.defineLong(1, "a", 1);
        final Parameter undeclared = parameters.defineLong(2, "undeclared", 0);
        final Follower machine = new Follower(4, a, null);
        runner.register(machine);
        runner.doWork(clock.nanoTime());
        assertEquals(Mode.ACTIVE, machine.state());
        assertEquals(List.of("follower-4:-1", "follower-4 enter ACTIVE"), log);

        final TraceSnapshot snapshot = new TraceSnapshot(16);
        trace.copyBySubject(7, snapshot);
        assertEquals(TraceKind.MACHINE_TRIGGERED, snapshot.kind(0));
        assertEquals(TraceKind.MACHINE_TRANSITION, snapshot.kind(1));
        assertEquals(Mode.IDLE.code(), snapshot.fromCode(1));
        assertEquals(Mode.ACTIVE.code(), snapshot.toCode(1));

        assertThrows(AssertionError.class, () -> machine.read(undeclared));
        assertThrows(AssertionError.class, () -> machine.write(a, 5, 0), "a subscribed input is not an output");
        assertThrows(IllegalArgumentException.class, () -> runner.register(machine));
    }

    @Test
    void unexpectedExceptionInMachineGoesToErrorHandler()
    {
        final Parameter a = parameters.defineLong(1, "a", 0);
        runner.register(new StateMachine<Mode>(1, "broken", 0, Mode.IDLE)
        {
            {
                subscribe(a);
            }

            protected void onTrigger(final long nowNs, final int cause)
            {
                if (cause == a.id())
                {
                    throw new IllegalStateException("boom");
                }
            }
        });
        drain();
        parameters.setLong(a, 1, clock.nanoTime());
        drain();
        assertEquals(1, runner.errorCount());
        assertEquals(1, errors.size());
        assertTrue(kinds().contains(TraceKind.MACHINE_ERROR));
    }

    private List<TraceKind> kinds()
    {
        final TraceSnapshot snapshot = new TraceSnapshot(1024);
        trace.copyAll(snapshot);
        final List<TraceKind> kinds = new ArrayList<>();
        for (int i = 0; i < snapshot.count(); i++)
        {
            kinds.add(snapshot.kind(i));
        }
        return kinds;
    }
}
