// Verbatim copy of Roo Scheduler's `setupTimerForSchedule` and
// `calculateNextExecutionTime` (src/services/scheduler/SchedulerService.ts,
// lines 168-395, kyle-apex/roo-scheduler at commit
// bcc3500ddda372b49d39bdd8c2e3a2b11b1ea7aa), used only by
// scripts/roo-differential.sh to compare src/state/formats/next_run/roo.rs
// with the original under node.
//
// Copyright 2025 Roo Scheduler (Kyle Hoskins).
// Licensed under the Apache License, Version 2.0 (the "License"); you may not
// use this file except in compliance with the License. You may obtain a copy
// of the License at http://www.apache.org/licenses/LICENSE-2.0
// Unless required by applicable law or agreed to in writing, software
// distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
// WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
// License for the specific language governing permissions and limitations
// under the License.
//
// Changes from the original: the TypeScript type annotations are removed
// (`schedule: Schedule`, `: void`, `: Date | null`, `: Date`,
// `: Record<string, number>`, `private`), and the two methods sit in a small
// class whose log/updateSchedule/executeSchedule only record what happened.
// The bodies are otherwise unchanged.
'use strict';

class RooSchedulerCopy {
  constructor() {
    this.timers = new Map();
    this.executed = false;
    this.updates = [];
  }
  log() {}
  updateSchedule(id, patch) {
    this.updates.push(patch);
  }
  executeSchedule() {
    this.executed = true;
  }

  setupTimerForSchedule(schedule) {
    if (schedule.active === false) {
      this.log(`Not setting up timer for inactive schedule "${schedule.name}"`);
      return;
    }
    
    if (schedule.scheduleType === 'time') {
      // Check if schedule has expired before calculating next execution time
 
      const nextExecutionTime = this.calculateNextExecutionTime(schedule);

      if (!nextExecutionTime) {
        this.updateSchedule(schedule.id, { nextExecutionTime: undefined });
        return;
      }

      let expirationDateTime;
      if (schedule.expirationDate) {
         expirationDateTime = new Date(
          `${schedule.expirationDate}T${schedule.expirationHour || '23'}:${schedule.expirationMinute || '59'}:00`
        );
      }

      console.log('nextExecutionTime:', nextExecutionTime)
      if (nextExecutionTime && expirationDateTime && nextExecutionTime > expirationDateTime) {
        console.log(`Schedule "${schedule.name}" has no valid execution time or has expired`);
        this.updateSchedule(schedule.id, { active: false });
      }

      

      // Save the next execution time if it's different from the current value
      const nextExecutionTimeStr = nextExecutionTime?.toISOString();
      if (schedule.nextExecutionTime !== nextExecutionTimeStr) {
        this.updateSchedule(schedule.id, { nextExecutionTime: nextExecutionTimeStr });
        
        // Notify the webview that schedules have been updated
        
      }

      const delay = nextExecutionTime.getTime() - Date.now();
      if (delay <= 0) {
        this.log(`Schedule "${schedule.name}" is due for immediate execution`);
        this.executeSchedule(schedule);
        return;
      }

      this.log(`Setting up timer for schedule "${schedule.name}" to execute in ${Math.floor(delay / 1000 / 60)} minutes`);
      const timer = setTimeout(() => {
        this.executeSchedule(schedule);
      }, delay);

      this.timers.set(schedule.id, timer);
    }
  }
    
  calculateNextExecutionTime(schedule) {
    if (!schedule.timeInterval || !schedule.timeUnit) {
      return null;
    }

    const now = new Date();
    const startDateTime = new Date(
      `${schedule.startDate || new Date().toISOString().split('T')[0]}T${schedule.startDate ? schedule.startHour : new Date().getHours().toString().padStart(2, '0')}:${schedule.startMinute || '00'}:00`
    );


    // If start time is in the future, return that
    if (now < startDateTime) {
      return startDateTime;
    }

    // Calculate next execution time based on interval
    let nextTime;
    const interval = parseInt(schedule.timeInterval);
    
    // Determine the most recent reference time (lastExecutionTime, lastSkippedTime, or startDateTime)
    let referenceTime;
    
    // If startDate was configured, we want our intervals based on that 
    // (ex: keep running on the hour even if the last execution was delayed 5 minutes)
    // Otherwise, we want to set based on execution or skip time
    if ((schedule.lastExecutionTime || schedule.lastSkippedTime) && !schedule.startDate) {
      // Find the most recent of lastExecutionTime and lastSkippedTime
      const lastExecutionDate = schedule.lastExecutionTime ? new Date(schedule.lastExecutionTime) : new Date(0);
      const lastSkippedDate = schedule.lastSkippedTime ? new Date(schedule.lastSkippedTime) : new Date(0);
      
      // Use the most recent time
      if (lastExecutionDate.getTime() >= lastSkippedDate.getTime()) {
        referenceTime = lastExecutionDate;
      } else {
        referenceTime = lastSkippedDate;
      }
    } else {
      // No previous execution or skip, use start time
      referenceTime = new Date(startDateTime);
    }
    
    
      // First execution, calculate from start time
      nextTime = new Date(referenceTime);
      
      // If start time is in the past, calculate the next occurrence
      if (now > nextTime) {
        const diffMs = now.getTime() - nextTime.getTime();
        let intervalMs = 0;
        
        switch (schedule.timeUnit) {
          case 'minute':
            intervalMs = interval * 60 * 1000;
            break;
          case 'hour':
            intervalMs = interval * 60 * 60 * 1000;
            break;
          case 'day':
            intervalMs = interval * 24 * 60 * 60 * 1000;
            break;
        }
        
        const periods = Math.ceil(diffMs / intervalMs);
        nextTime = new Date(nextTime.getTime() + (periods * intervalMs));
        nextTime.setSeconds(0);
        if (now > nextTime) {
          nextTime.setMinutes(nextTime.getMinutes() + 1);
        }
      }
    

    // Check if we need to respect selected days
    if (schedule.selectedDays && Object.values(schedule.selectedDays).some(Boolean)) {
      const dayMap = {
        sun: 0, mon: 1, tue: 2, wed: 3, thu: 4, fri: 5, sat: 6
      };
      
      // Keep advancing the date until we find a selected day
      let daysChecked = 0;
      while (daysChecked < 7) {
        const dayOfWeek = nextTime.getDay();
        const dayKey = Object.keys(dayMap).find(key => dayMap[key] === dayOfWeek);
        
        if (dayKey && schedule.selectedDays[dayKey]) {
      
          // Final check to ensure the next execution time is in the future
          const now = new Date();
          if (nextTime && nextTime <= now) {
            this.log(`Calculated next execution time for "${schedule.name}" is in the past. Recalculating...`);
            
            // Calculate a new time in the future based on the interval
            const interval = parseInt(schedule.timeInterval || '1');
            let intervalMs = 0;
            
            switch (schedule.timeUnit) {
              case 'minute':
                intervalMs = interval * 60 * 1000;
                break;
              case 'hour':
                intervalMs = interval * 60 * 60 * 1000;
                break;
              case 'day':
                intervalMs = interval * 24 * 60 * 60 * 1000;
                break;
            }
            
            // If we have selected days, we need to handle them specially
            if (schedule.selectedDays && Object.values(schedule.selectedDays).some(Boolean)) {
              // Start from now and find the next valid day
              nextTime = new Date(now);
              // Set the time to the specified start time
              nextTime.setHours(parseInt(schedule.startHour || '0'));
              nextTime.setMinutes(parseInt(schedule.startMinute || '0'));
              nextTime.setSeconds(0);
              
              // If the time today is already past, move to tomorrow
              if (nextTime <= now) {
                nextTime.setDate(nextTime.getDate() + 1);
              }
              
              // Find the next valid day
              const dayMap = {
                sun: 0, mon: 1, tue: 2, wed: 3, thu: 4, fri: 5, sat: 6
              };
              
              let daysChecked = 0;
              while (daysChecked < 7) {
                const dayOfWeek = nextTime.getDay();
                const dayKey = Object.keys(dayMap).find(key => dayMap[key] === dayOfWeek);
                
                if (dayKey && schedule.selectedDays[dayKey]) {
                  break; // Found a valid day
                }
                
                // Move to next day
                nextTime.setDate(nextTime.getDate() + 1);
                daysChecked++;
              }
              
              // If we've checked all days and none are selected, this schedule can't run
              if (daysChecked >= 7) {
                return null;
              }
            } else {
              // For schedules without day constraints, simply add intervals until we're in the future
              while (nextTime <= now) {
                nextTime = new Date(nextTime.getTime() + intervalMs);
              }
            }
            
          }
          
          return nextTime;
        }
        
        // Move to next day
        nextTime.setDate(nextTime.getDate() + 1);
        // Reset to the specified time
          nextTime.setHours(parseInt(schedule.startHour || '0'));
          nextTime.setMinutes(parseInt(schedule.startMinute || '0'));
        nextTime.setSeconds(0);
        
        daysChecked++;
      }
      
      // If we've checked all days and none are selected, this schedule can't run
      return null;
    }

    return nextTime;
  }
}

module.exports = { RooSchedulerCopy };
