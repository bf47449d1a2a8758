package io.afasim.controller;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

import io.afasim.mirror.LinkWakeup;
import org.agrona.ErrorHandler;
import org.agrona.concurrent.Agent;
import org.agrona.concurrent.AgentRunner;
import org.agrona.concurrent.AgentTerminationException;
import org.agrona.concurrent.DynamicCompositeAgent;
import org.agrona.concurrent.IdleStrategy;
import org.agrona.concurrent.NanoClock;

/**
 * A controller's I/O thread with shared threading ({@code afasim.threading=shared}): one thread runs the link agent,
 * the hosted NBD server and every volume agent, one duty cycle after the other (an Agrona
 * {@link DynamicCompositeAgent}), and waits on one {@link LinkWakeup} when all of them are idle. Agents are added
 * and removed while it runs, from other threads, with a bounded wait.
 *
 * <p>Each agent runs inside a guard: an exception is reported (and counted by the error handler) and the duty cycle
 * goes on with the next agent; an {@link Error} stops that agent alone, as it would have stopped a thread of its own.
 * One volume's bug must not stall the other volumes, the NBD server or the link.
 */
final class IoThread implements AutoCloseable
{
    private final DynamicCompositeAgent agents;
    private final AgentRunner runner;
    private final LinkWakeup wakeup;
    private final ErrorHandler errorHandler;
    private final NanoClock clock;
    private final long waitNs;
    /** The guard around each agent added, by the agent. */
    private final Map<Agent, Agent> guards = new ConcurrentHashMap<>();

    /** Starts the thread ({@code "io-" + node}), with {@code first} (null: none) first in every duty cycle. */
    IoThread(
        final String node,
        final Agent first,
        final IdleStrategy idleStrategy,
        final LinkWakeup wakeup,
        final ErrorHandler errorHandler,
        final NanoClock clock,
        final long waitMs)
    {
        this.wakeup = wakeup;
        this.errorHandler = errorHandler;
        this.clock = clock;
        this.waitNs = TimeUnit.MILLISECONDS.toNanos(waitMs);
        final String name = "io-" + node;
        this.agents = first == null ? new DynamicCompositeAgent(name) : new DynamicCompositeAgent(name, guard(first));
        this.runner = new AgentRunner(idleStrategy, errorHandler, null, agents);
        AgentRunner.startOnThread(runner);
    }

    /** Where the thread waits: agents it runs ring it; hosted sockets register on its selector. */
    LinkWakeup wakeup()
    {
        return wakeup;
    }

    /** Adds {@code agent} and waits (bounded) until the thread runs it. Not from the I/O thread itself. */
    void add(final Agent agent)
    {
        requireOffThread();
        final Agent guard = guard(agent);
        guards.put(agent, guard);
        final long deadlineNs = clock.nanoTime() + waitNs;
        while (agents.status() == DynamicCompositeAgent.Status.INIT) // the thread is starting
        {
            await(deadlineNs, "start");
        }
        while (!agents.tryAdd(guard))
        {
            await(deadlineNs, "add " + agent.roleName());
        }
        while (!agents.hasAddAgentCompleted())
        {
            await(deadlineNs, "add " + agent.roleName());
        }
    }

    /** Removes {@code agent} (if added) and waits (bounded) until the thread no longer runs it. */
    void remove(final Agent agent)
    {
        requireOffThread();
        final Agent guard = guards.remove(agent);
        if (guard == null)
        {
            return;
        }
        final long deadlineNs = clock.nanoTime() + waitNs;
        while (!agents.tryRemove(guard))
        {
            await(deadlineNs, "remove " + agent.roleName());
        }
        while (!agents.hasRemoveAgentCompleted())
        {
            await(deadlineNs, "remove " + agent.roleName());
        }
    }

    /** Stops the thread; every agent still on it is closed there. */
    @Override
    public void close()
    {
        runner.close();
    }

    private void await(final long deadlineNs, final String what)
    {
        if (clock.nanoTime() - deadlineNs >= 0)
        {
            throw new IllegalStateException("the I/O thread did not " + what + " within " +
                TimeUnit.NANOSECONDS.toMillis(waitNs) + " ms");
        }
        wakeup.ring(); // its duty cycle adds or removes the agent
        LockSupport.parkNanos(50_000);
    }

    private void requireOffThread()
    {
        if (runner.thread() == Thread.currentThread())
        {
            throw new IllegalStateException("an agent of the I/O thread cannot be added or removed from it");
        }
    }

    private Agent guard(final Agent agent)
    {
        return new Agent()
        {
            /** An Error ended it: as its own thread would have died, it no longer runs (the others do). */
            private boolean dead;

            @Override
            public void onStart()
            {
                agent.onStart();
            }

            @Override
            public int doWork()
            {
                if (dead)
                {
                    return 0;
                }
                try
                {
                    return agent.doWork();
                }
                catch (final AgentTerminationException ex)
                {
                    throw ex;
                }
                catch (final Exception ex)
                {
                    errorHandler.onError(ex);
                    return 0;
                }
                catch (final Error error)
                {
                    dead = true;
                    errorHandler.onError(new IllegalStateException(agent.roleName() + " stopped on an error", error));
                    return 0;
                }
            }

            @Override
            public void onClose()
            {
                agent.onClose();
            }

            @Override
            public String roleName()
            {
                return agent.roleName();
            }
        };
    }
}
